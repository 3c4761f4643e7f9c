# herd's agent supervisor (POSIX sh, run as: sh -c '<this>' herd-agent-supervisor AGENT-COMMAND...).
# It runs the agent and starts it again when it dies of a signal (SIGKILL, a crash), so running
# jobs are taken over at once and scheduled ones start on time. It stops when the agent exits by
# itself (idle, or another agent runs) and after five deaths within a minute.
# HERD_CHANNEL (set by bootstrap.sh) is the pid of the bootstrap whose SSH channel the first agent
# serves: if that agent dies, the bootstrap is told (SIGUSR1) so the channel ends, and the agents
# started after it serve only their socket.
n=0 since=0
while :; do
  "$@"; s=$?
  [ "$s" -gt 128 ] || exit "$s"
  if [ -n "${HERD_CHANNEL:-}" ]; then
    case $(tr '\0' ' ' < "/proc/$HERD_CHANNEL/cmdline" 2>/dev/null) in
      *" herd-bootstrap "*) kill -USR1 "$HERD_CHANNEL" 2>/dev/null ;;
    esac
    unset HERD_CHANNEL
  fi
  now=$(date +%s 2>/dev/null || echo 0)
  if [ $((now - since)) -ge 60 ]; then n=0 since=$now; fi
  n=$((n + 1)); [ "$n" -le 5 ] || exit "$s"
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ 2>/dev/null) herd supervisor: the agent died (status $s); starting it again" >&2
done
