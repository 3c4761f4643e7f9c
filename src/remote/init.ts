/*
 * PID 1 of every job, as a POSIX sh script run by `unshare --fork`.
 * Why a shell: the kernel drops signals sent to a namespace's PID 1 unless it has a
 * handler, so the command itself must not be PID 1. This init traps TERM/INT/HUP and
 * forwards them to the command; dash's `wait` reaps with waitpid(-1), so orphans that
 * the kernel reparents to PID 1 are reaped too. Its own job-control messages
 * ("Terminated") go to /dev/null so the job's stderr holds only the command's output.
 * When it exits the kernel kills everything left in the PID namespace.
 * stdin is duplicated to fd 3 first because sh gives background commands /dev/null.
 */
export const INIT_SCRIPT = [
  'exec 3<&0 4>&2 2>/dev/null',
  "trap 'kill -TERM $c' TERM",
  "trap 'kill -INT $c' INT",
  "trap 'kill -HUP $c' HUP",
  '"$@" <&3 2>&4 3<&- 4>&- &',
  'c=$!',
  'exec 3<&- 4>&-',
  'while :; do wait $c; s=$?; kill -0 $c || break; done',
  'exit $s',
].join('\n');

export const INIT_NAME = 'herd-init';
