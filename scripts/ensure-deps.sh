#!/usr/bin/env bash
# Installs what herd's tests (and, with --bench, its benchmarks) need on this machine:
# Debian packages when run as root, and the bun and deno runtimes under .runtimes/ from npm.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

bench=0
[ "${1:-}" = "--bench" ] && bench=1

# command -> Debian package
declare -A needs=(
  [sshd]=openssh-server [ssh]=openssh-client [ssh-keygen]=openssh-client [ip]=iproute2
  [unshare]=util-linux [nsenter]=util-linux [setpriv]=util-linux [ps]=procps [sha256sum]=coreutils
  [losetup]=mount [strace]=strace [sudo]=sudo [nodeset]=clustershell [ansible-inventory]=ansible-core [zsh]=zsh [fish]=fish [mkfs.ext4]=e2fsprogs [nft]=nftables [tc]=iproute2 [iptables-restore]=iptables
  # the cgroup-v2 test host (fixtures/vm)
  [qemu-system-x86_64]=qemu-system-x86 [debootstrap]=debootstrap [busybox]=busybox-static [cpio]=cpio
)
if [ "$bench" = 1 ]; then
  needs+=([rsync]=rsync [clush]=clustershell [parallel-ssh]=pssh [ansible]=ansible-core [hyperfine]=hyperfine [bwrap]=bubblewrap)
fi

missing=()
for cmd in "${!needs[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then missing+=("${needs[$cmd]}"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-deps: installing Debian packages: $pkgs"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  else
    echo "ensure-deps: missing packages: $pkgs (install them as root; integration tests skip without them)" >&2
  fi
fi

# The CLI is tested under bun and deno too; they come from npm, kept apart from the project's own dependencies.
if [ ! -x .runtimes/node_modules/.bin/bun ] || [ ! -x .runtimes/node_modules/.bin/deno ]; then
  echo "ensure-deps: installing bun and deno under .runtimes/"
  mkdir -p .runtimes
  [ -f .runtimes/package.json ] || echo '{ "name": "herd-test-runtimes", "private": true }' > .runtimes/package.json
  (cd .runtimes && npm install --no-audit --no-fund --loglevel=error bun@1 deno@2 >/dev/null)
fi
