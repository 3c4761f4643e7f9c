# herd bootstrap (POSIX sh, run by the client as:
#   sh -c '<this>' herd-bootstrap SHA256 SIZE [STATE_DIR [SHIP_RUNTIME [SUPERVISOR]]]),
# SUPERVISOR being the text of supervisor.sh.
# It talks to the client in lines on stdout until the helper starts:
#   HERD-RUNTIME TARGET       no runtime here (or SHIP_RUNTIME always): answer one line, the Bun
#                             binary's "SHA256 GZSIZE" for TARGET (linux-x64, linux-aarch64-musl, ...),
#                             or "NONE why"
#   HERD-SEND-RUNTIME         send exactly GZSIZE bytes: the binary, gzipped
#   HERD-RUNTIME-CACHED       this host has that binary already: send nothing
#   HERD-SEND                 send exactly SIZE bytes of the helper on stdin
#   HERD-READY                from here on stdout carries protocol frames
#   HERD-ERROR CODE message   the helper cannot start; exit status 1
set -u
fail() { printf 'HERD-ERROR %s %s\n' "$1" "$2"; exit 1; }
hash=${1:-}
size=${2:-}
dir=${3:-}
ship=${4:-auto}
supervisor=${5:-}
case $hash in '' | *[!0-9a-f]*) fail INVALID_SPEC "bootstrap: malformed helper hash" ;; esac
case $size in '' | *[!0-9]*) fail INVALID_SPEC "bootstrap: malformed helper size" ;; esac
if [ -z "$dir" ]; then
  if [ "$(id -u)" = 0 ]; then dir=/var/lib/herd; else dir=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/herd; fi
fi

case $ship in auto | always | never) ;; *) fail INVALID_SPEC "bootstrap: --ship-runtime is auto, always or never" ;; esac

runtime=
if [ "$ship" != always ]; then
  for name in node bun deno; do
    if path=$(command -v "$name" 2>/dev/null) && [ -x "$path" ]; then runtime=$name; break; fi
  done
fi
[ -n "$runtime" ] || [ "$ship" != never ] || fail HELPER_START "no JavaScript runtime on this host (node, bun or deno on the PATH of non-interactive SSH logins), and --ship-runtime never: install one, or let herd ship Bun (--ship-runtime auto)"
[ -n "$runtime" ] || command -v gzip >/dev/null 2>&1 || fail HELPER_START "no JavaScript runtime on this host, and no gzip to unpack the one herd would send: install node, bun or deno (or gzip)"

# The host's Bun target: its CPU, its C library (musl has its own dynamic loader), and for x86-64
# without AVX2 Bun's baseline build.
target() {
  case $(uname -m 2>/dev/null) in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) printf 'unsupported-%s\n' "$(uname -m 2>/dev/null)"; return ;;
  esac
  libc=
  for loader in /lib/ld-musl-*.so.1; do [ -e "$loader" ] && libc=-musl; done
  base=
  if [ "$arch" = x64 ] && ! grep -q -w avx2 /proc/cpuinfo 2>/dev/null; then base=-baseline; fi
  printf 'linux-%s%s%s\n' "$arch" "$libc" "$base"
}

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
me=$(id -u)
# Whoever can write the state directory can plant the helper this login runs, or a symlink where it
# writes: it must be a real directory of our own that nobody else may enter; and every directory
# above it root's or ours, and sticky (as /tmp) where others may write, so nobody else can swap it
# for another between this check and its use. Prints what is wrong with DIR (called WHAT), or nothing.
unsafe() {
  what="$1 $2"
  [ ! -L "$2" ] || { printf '%s is a symlink: remove it, or name a real directory' "$what"; return; }
  set -- "$2" $(ls -ldn -- "$2" 2>/dev/null)
  [ $# -ge 4 ] || { printf 'cannot check the owner and mode of %s (ls -ldn failed)' "$what"; return; }
  # A trailing "." only says an SELinux context is set; "+" (an ACL) may let others in.
  if [ "$4" != "$me" ] || [ "${2%.}" != drwx------ ]; then
    printf '%s has owner uid %s and mode %s: it must be yours with mode 0700 (chmod 700 %s if it is yours; remove it if it is not)' "$what" "$4" "$2" "$1"
    return
  fi
  p=$1
  set --
  while [ "$p" != / ]; do p=${p%/*}; [ -n "$p" ] || p=/; set -- "$@" "$p"; done
  ls -ldLn -- "$@" 2>&1 | awk -v me="$me" -v what="$what" '$3 != 0 && $3 != me || (substr($1, 6, 1) == "w" || substr($1, 9, 1) == "w") && substr($1, 10, 1) != "t" && substr($1, 10, 1) != "T" { print "a directory above " what " may be changed by another user: " $0; exit }'
}
problem=$(unsafe 'the state directory' "$dir")
[ -z "$problem" ] || fail STATE_UNSAFE "$problem"
# Whether this login may run a program it writes in DIR (not so on a noexec file system).
execable() {
  probe=$1/.exec-probe-$$
  printf '#!/bin/sh\nexit 0\n' > "$probe" 2>/dev/null && chmod 700 "$probe" && "$probe" 2>/dev/null
  set -- $?
  rm -f "$probe"
  return "$1"
}
if [ -z "$runtime" ]; then
  printf 'HERD-RUNTIME %s\n' "$(target)"
  IFS= read -r answer || fail HELPER_START "the client did not answer which runtime it sends"
  case $answer in NONE*) fail HELPER_START "no JavaScript runtime on this host, and herd has none to send: ${answer#NONE }" ;; esac
  set -- $answer
  rhash=${1:-}
  rsize=${2:-}
  case $rhash in '' | *[!0-9a-f]*) fail PROTOCOL "bootstrap: malformed runtime hash" ;; esac
  case $rsize in '' | *[!0-9]*) fail PROTOCOL "bootstrap: malformed runtime size" ;; esac
  # Beside the helper, unless its file system is noexec (a home or /var mounted so): then the first
  # of these where this login may run what it writes, held to the state directory's rules.
  runtimes=
  for candidate in "$dir/runtimes" ${XDG_RUNTIME_DIR:+"$XDG_RUNTIME_DIR/herd-runtimes"} "/var/tmp/herd-$me" "/dev/shm/herd-$me" "/tmp/herd-$me"; do
    mkdir -p "$candidate" 2>/dev/null && [ -z "$(unsafe 'the runtime directory' "$candidate")" ] || continue
    if [ -f "$candidate/bun-$rhash" ] || execable "$candidate"; then runtimes=$candidate; break; fi
  done
  [ -n "$runtimes" ] || fail HELPER_START "no JavaScript runtime on this host, and nowhere to run the one herd would send: the state directory $dir, /var/tmp, /dev/shm and /tmp are noexec (or not safe) for this login; install node, bun or deno, or give it a directory with exec"
  runtime=$runtimes/bun-$rhash
  # Its hash was checked when it was installed; hashing 100 MB on every contact would cost a third of
  # a second, so a cached one is checked by its size (a cut or damaged file is replaced).
  if [ -f "$runtime" ] && [ "$(wc -c < "$runtime" | tr -d ' ')" != "$(cat "$runtime.size" 2>/dev/null)" ]; then rm -f "$runtime"; fi
  # One first contact installs it; the others wait for it. The lock of a process that died is taken
  # over, and so is one that stays without its pid (its maker died making it) for two minutes.
  lock=$runtimes/.lock-$rhash
  locked=
  waited=0
  while [ ! -f "$runtime" ]; do
    if mkdir "$lock" 2>/dev/null; then locked=1; printf '%s\n' $$ > "$lock/pid"; break; fi
    holder=$(cat "$lock/pid" 2>/dev/null)
    if { [ -n "$holder" ] && ! kill -0 "$holder" 2>/dev/null; } || [ "$waited" -ge 120 ]; then rm -rf "$lock"; waited=0; continue; fi
    sleep 1
    waited=$((waited + 1))
  done
  if [ -f "$runtime" ]; then
    [ -z "$locked" ] || rm -rf "$lock"
    printf 'HERD-RUNTIME-CACHED\n'
  else
    printf 'HERD-SEND-RUNTIME\n'
    tmp=$runtimes/.bun-$rhash.$$
    rm -f "$tmp"
    # Unpacked as it arrives: no compressed copy on disk. A cut stream ends gzip with an error.
    if ! err=$(head -c "$rsize" | gzip -dc 2>&1 >"$tmp"); then
      rm -f "$tmp"; rm -rf "$lock"
      fail HELPER_START "cannot unpack the runtime into $runtimes: ${err:-write failed} (free space: $(df -Pk "$runtimes" 2>/dev/null | awk 'NR==2 {print $4 " KiB"}'))"
    fi
    sum=$(sha256 "$tmp")
    if [ "$sum" != "$rhash" ]; then rm -f "$tmp"; rm -rf "$lock"; fail HELPER_START "the runtime arrived corrupted (sha256 $sum, expected $rhash)"; fi
    wc -c < "$tmp" | tr -d ' ' > "$runtime.size"
    chmod 700 "$tmp" && mv -f "$tmp" "$runtime" || { rm -rf "$lock"; fail HELPER_START "cannot install the runtime in $runtimes"; }
    rm -rf "$lock"
  fi
fi
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
  deno) set -- deno run --allow-all --quiet "$helper" --state "$dir" ;;
  *) set -- "$runtime" "$helper" --state "$dir" ;;
esac
# One runtime start at first contact: with no agent running yet, the agent itself serves this
# channel (no relay in between). It opens this shell's stdin and stdout through /proc, close-on-exec
# (descriptors it inherited would reach every process it starts); that works for pipes, as sshd
# gives, not for sockets. It tells this shell (SIGUSR1) when the connection is over, and the SSH
# session ends with the shell. Where an agent runs already, or it cannot serve the channel (it exits
# at once, before reading it), the relay does: the helper between stdio and the agent's socket.
agent_pid=$(cat "$dir/agent-${hash%"${hash#????????????}"}.lock" 2>/dev/null)
if [ -n "$supervisor" ] && [ -p /dev/stdin ] && [ -p /dev/stdout ] && { [ -z "$agent_pid" ] || ! kill -0 "$agent_pid" 2>/dev/null; }; then
  log=$dir/agent.log
  # Never appended to through a symlink planted where the log goes.
  [ ! -L "$log" ] || rm -f "$log"
  trap 'exit 0' USR1
  HERD_CHANNEL=$$ /bin/sh -c "$supervisor" herd-agent-supervisor "$@" agent </dev/null >/dev/null 2>>"$log" &
  wait $!
  trap - USR1
fi
exec "$@"
