# herd bootstrap (POSIX sh, run by the client as: sh -c '<this>' herd-bootstrap SHA256 SIZE [STATE_DIR]).
# It talks to the client in lines on stdout until the helper starts:
#   HERD-SEND                 send exactly SIZE bytes of the helper on stdin
#   HERD-READY                from here on stdout carries protocol frames
#   HERD-ERROR CODE message   the helper cannot start; exit status 1
set -u
fail() { printf 'HERD-ERROR %s %s\n' "$1" "$2"; exit 1; }
hash=${1:-}
size=${2:-}
dir=${3:-}
case $hash in '' | *[!0-9a-f]*) fail INVALID_SPEC "bootstrap: malformed helper hash" ;; esac
case $size in '' | *[!0-9]*) fail INVALID_SPEC "bootstrap: malformed helper size" ;; esac
if [ -z "$dir" ]; then
  if [ "$(id -u)" = 0 ]; then dir=/var/lib/herd; else dir=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/herd; fi
fi

runtime=
for name in node bun deno; do
  if path=$(command -v "$name" 2>/dev/null) && [ -x "$path" ]; then runtime=$name; break; fi
done
[ -n "$runtime" ] || fail HELPER_START "no JavaScript runtime on this host: install node (>= 18), bun or deno and put it on the PATH of non-interactive SSH logins"

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sum=$(sha256sum "$1")
  else
    sum=$(shasum -a 256 "$1" 2>/dev/null || openssl dgst -sha256 -r "$1")
  fi
  printf '%s\n' "${sum%% *}"
}

case $dir in /*) ;; *) fail STATE_UNSAFE "the state directory $dir is not an absolute path" ;; esac
umask 077
mkdir -p "$dir" 2>/dev/null || fail HELPER_START "cannot create the state directory $dir (read-only file system or no permission)"
# Whoever can write the state directory can plant the helper this login runs, or a symlink
# where it writes: it must be a real directory of our own that nobody else may enter.
[ -L "$dir" ] && fail STATE_UNSAFE "the state directory $dir is a symlink: remove it, or name a real directory"
set -- $(ls -ldn -- "$dir" 2>/dev/null)
[ $# -ge 3 ] || fail STATE_UNSAFE "cannot check the owner and mode of the state directory $dir (ls -ldn failed)"
# A trailing "." only says an SELinux context is set; "+" (an ACL) may let others in.
if [ "${3:-}" != "$(id -u)" ] || [ "${1%.}" != drwx------ ]; then
  fail STATE_UNSAFE "the state directory $dir has owner uid $3 and mode $1: it must be yours with mode 0700 (chmod 700 $dir if it is yours; remove it if it is not)"
fi
# And every directory above it: root's or ours, and sticky (as /tmp) where others may write, so
# nobody else can swap the directory for another between this check and its use.
me=$(id -u)
set --
p=$dir
while [ "$p" != / ]; do p=${p%/*}; [ -n "$p" ] || p=/; set -- "$@" "$p"; done
bad=$(ls -ldLn -- "$@" 2>&1 | awk -v me="$me" '$3 != 0 && $3 != me { print; next } (substr($1, 6, 1) == "w" || substr($1, 9, 1) == "w") && substr($1, 10, 1) != "t" && substr($1, 10, 1) != "T" { print }')
[ -z "$bad" ] || fail STATE_UNSAFE "a directory above the state directory $dir may be changed by another user: $bad"
helper=$dir/helper-$hash.mjs
# A cached helper runs only if it is still the one its name promises.
if [ -f "$helper" ] && [ "$(sha256 "$helper")" != "$hash" ]; then rm -f "$helper"; fi
if [ ! -f "$helper" ]; then
  printf 'HERD-SEND\n'
  # A private temp name and an atomic rename keep concurrent first contacts from corrupting the cache.
  tmp=$dir/.helper-$hash.$$
  rm -f "$tmp"
  set -C
  if ! err=$(head -c "$size" 2>&1 >"$tmp"); then
    rm -f "$tmp"
    fail HELPER_START "cannot write the helper to $dir: ${err:-write failed} (free space: $(df -Pk "$dir" 2>/dev/null | awk 'NR==2 {print $4 " KiB"}'))"
  fi
  set +C
  sum=$(sha256 "$tmp")
  if [ "$sum" != "$hash" ]; then
    rm -f "$tmp"
    fail HELPER_START "the helper arrived corrupted (sha256 $sum, expected $hash)"
  fi
  mv -f "$tmp" "$helper" || fail HELPER_START "cannot rename the helper into $dir"
fi
printf 'HERD-READY\n'
case $runtime in
  deno) exec deno run --allow-all --quiet "$helper" --state "$dir" ;;
  *) exec "$runtime" "$helper" --state "$dir" ;;
esac
