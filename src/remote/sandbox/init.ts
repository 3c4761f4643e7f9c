import { SETUP_FAILED_STATUS } from './initControl.ts';

/*
 * PID 1 of every job: a POSIX sh script run by `unshare --fork`, in two halves.
 *
 * Setup, named step by step (a failure reports "fail STEP message" on fd 4 and exits SETUP_FAILED_STATUS, 125; the lines are declared in initControl.ts):
 *   output      the job's stdout and stderr are the FIFOs in its directory (stdout.pipe, stderr.pipe),
 *               which the init also holds open read-write (fds 7 and 8) until it exits: a writer never
 *               meets a pipe without a reader, so the job neither dies of SIGPIPE nor loses output when
 *               the agent that reads them is killed; it blocks once 64 KiB wait, until a new agent
 *               opens the FIFOs and carries on. fd 9 appends the command's exit status to `status`,
 *               so a later agent learns it too.
 *   pid         its pid as the host sees it: /proc is still the host's procfs here, so the
 *               agent can move the init into its cgroup while the mounts below are made (joining
 *               a cgroup waits for an RCU grace period, ~15 ms, worth overlapping)
 *   hostname    the job's hostname, in its own UTS namespace, and two sysctls of the job's own network
 *               namespace: ICMP echo sockets for every group (ping without CAP_NET_RAW) and no
 *               privileged ports (its root holds no capability over the network namespace). Before
 *               the mounts, which make /proc/sys read-only.
 *   network     with --network none, the loopback interface (other networks are set up by the
 *               agent from outside, in phase 2 of the network setup, while these steps run)
 *   mount       every mount of the job's root, from the fstab the agent wrote (one process)
 *   pivot_root  into the new root; the old root is detached
 *   workdir     the job's working directory
 * Then it says "ready" on fd 4 and blocks reading fd 3: the agent now places it in its cgroup
 * (and, later, its network) and answers "go". Nothing of the command runs before that.
 *
 * Run: the kernel drops signals sent to a namespace's PID 1 unless it has a handler, so the
 * command must not be PID 1. This init traps TERM/INT/HUP and forwards them; dash's `wait`
 * reaps with waitpid(-1), so orphans reparented to PID 1 are reaped too. Its own job-control
 * messages ("Terminated") go to /dev/null so the job's stderr holds only the command's output.
 * When it exits the kernel kills everything left in the PID namespace. stdin is duplicated
 * first because sh gives background commands /dev/null.
 *
 * With mapped users (USERS=map) the command's first steps enter the job's user namespace and
 * talk to the agent once more (USERNS_SCRIPT): they keep fd 3 and 4, write what goes wrong to fd 4,
 * and get the job's stderr as fd 6.
 *
 * Arguments: JOB_DIR WORKDIR NET USERS COMMAND... (NET: lo, agent or host, see above; USERS: map,
 * self, or host for host mode, which skips hostname, network, mount and pivot_root; COMMAND is the rest of the chain, ending in setpriv ... -- the user's command).
 */
export const INIT_SCRIPT = [
  'j=$1 w=$2 net=$3 users=$4; shift 4',
  `fail() { printf "fail %s %s\\n" "$1" "$2" >&4; exit ${SETUP_FAILED_STATUS}; }`,
  // `command` keeps a failed redirection from ending the shell before it can report.
  'command exec 7<>"$j/stdout.pipe" 8<>"$j/stderr.pipe" 9>>"$j/status" || fail output "cannot open the output pipes in $j"',
  'exec 1>"$j/stdout.pipe" 2>"$j/stderr.pipe"',
  'read -r p _ < /proc/self/stat && printf "pid %s\\n" "$p" >&4',
  // /proc/sys is owned by the initial user namespace, so a rootless job (in a user namespace of
  // its own) cannot write it; sethostname(2), through hostname(1), is allowed there.
  // Host mode (USERS=host): no namespaces, so none of the steps up to the working directory.
  'if [ "$users" != host ]; then',
  'read -r n < "$j/hostname" || fail hostname "no hostname file"',
  '{ printf "%s\\n" "$n" > /proc/sys/kernel/hostname; } 2>/dev/null || hostname "$n" 2>/dev/null || fail hostname "cannot set the hostname to $n"',
  // Group ids are read in the writer's user namespace: a rootless job has only its gid 0.
  'if [ "$net" != host ]; then',
  '  if [ "$users" = map ]; then g="0 2147483647"; else g="0 0"; fi',
  '  { printf "%s\\n" "$g" > /proc/sys/net/ipv4/ping_group_range; printf "0\\n" > /proc/sys/net/ipv4/ip_unprivileged_port_start; } 2>/dev/null',
  'fi',
  // Loopback comes up beside the mounts (two cores: ip's exec and mount's overlap).
  'l=; if [ "$net" = lo ]; then ip link set lo up 2>/dev/null & l=$!; fi',
  'e=$(mount -a -T "$j/fstab" 2>&1) || fail mount "$e"',
  'if [ -n "$l" ]; then wait "$l" || fail network "cannot bring up lo"; fi',
  'cd "$j/root" || fail pivot_root "no job root at $j/root"',
  'e=$(pivot_root . . 2>&1) || fail pivot_root "$e"',
  'e=$(umount -l . 2>&1) || fail pivot_root "$e"',
  'fi',
  'cd "$w" 2>/dev/null || fail workdir "$w is not a directory in the job"',
  // cd made dash export OLDPWD, the host path of the job root: not for the job to see.
  'unset OLDPWD',
  'printf "ready\\n" >&4',
  `read -r go <&3 && [ "$go" = go ] || exit ${SETUP_FAILED_STATUS}`,
  'exec 5<&0 6>&2 2>/dev/null',
  "trap 'kill -TERM $c' TERM",
  "trap 'kill -INT $c' INT",
  "trap 'kill -HUP $c' HUP",
  'if [ "$users" = map ]; then',
  '  "$@" <&5 2>&4 5<&- 7<&- 8<&- 9>&- &',
  'else',
  '  "$@" <&5 2>&6 4>&- 5<&- 6>&- 7<&- 8<&- 9>&- &',
  'fi',
  'c=$!',
  'exec 3<&- 4>&- 5<&- 6>&-',
  'while :; do wait $c; s=$?; kill -0 $c || break; done',
  'printf "exit %s\\n" "$s" >&9',
  'exit $s',
].join('\n');

/**
 * The command's first step inside the job's user namespace (mapped users): its pid, as the job's
 * /proc shows it, goes to the agent, which writes the namespace's uid and gid maps; "go" means they
 * are written. What failed before this point (setpriv, unshare) went to fd 4 as well, so the agent
 * reports it as a setup failure; from here on stderr is the job's.
 */
export const USERNS_SCRIPT = [
  'printf "userns %s\\n" "$$" >&4',
  `read -r go <&3 && [ "$go" = go ] || exit ${SETUP_FAILED_STATUS}`,
  'exec 2>&6 4>&- 6>&-',
  'exec "$@"',
].join('\n');

/**
 * The command's last step, run by setpriv once every privilege is gone: it reads the job's
 * environment from fd 3 (environmentBlock: NAME=VALUE, +MORE for further lines of a value, then
 * "."), exports it, closes fd 3 and execs the command. Only here does anything of the user's
 * environment exist; everything before ran with a fixed PATH and nothing else. Its own variables
 * are __herd_*, names no -e may use.
 */
export const ENV_SCRIPT = [
  "__herd_nl='",
  "' __herd_n=",
  'while IFS= read -r __herd_l <&3; do',
  '  case $__herd_l in',
  '    .) break ;;',
  '    +*) __herd_v=$__herd_v$__herd_nl${__herd_l#+} ;;',
  '    *=*) [ -z "$__herd_n" ] || export "$__herd_n=$__herd_v"; __herd_n=${__herd_l%%=*} __herd_v=${__herd_l#*=} ;;',
  '  esac',
  'done',
  '[ -z "$__herd_n" ] || export "$__herd_n=$__herd_v"',
  'unset __herd_nl __herd_n __herd_v __herd_l',
  'exec 3<&-',
  'exec "$@"',
].join('\n');

export const ENV_NAME = 'herd-env';

export const USERNS_NAME = 'herd-userns';
export const INIT_NAME = 'herd-init';
