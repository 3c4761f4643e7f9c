import { spawn } from 'node:child_process';
import { constants, openSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { userInfo } from 'node:os';
import { utf8 } from '../../protocol/bytes.ts';
import { HerdError } from '../../protocol/errors.ts';
import { encodeFrame, FrameType } from '../../protocol/frame.ts';
import type { RelayFacts } from '../../protocol/messages.ts';
import type { StatePaths } from '../../shared/agentPaths.ts';
import { selfCommand } from '../../shared/runtime.ts';

/** How long a relay waits for an agent that another first contact is starting. */
const AGENT_START_TIMEOUT_MS = 5000;

function tryConnect(path: string): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(null));
  });
}

/**
 * Runs the agent and starts it again when it dies of a signal (SIGKILL, a crash), so running
 * jobs are taken over at once, and scheduled ones start on time. It stops when the agent exits
 * by itself (idle, or another agent runs) and after five deaths within a minute.
 */
export const AGENT_SUPERVISOR = [
  'n=0 since=0',
  'while :; do',
  '  "$@"; s=$?',
  '  [ "$s" -gt 128 ] || exit "$s"',
  '  now=$(date +%s 2>/dev/null || echo 0)',
  '  if [ $((now - since)) -ge 60 ]; then n=0 since=$now; fi',
  '  n=$((n + 1)); [ "$n" -le 5 ] || exit "$s"',
  '  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ 2>/dev/null) herd supervisor: the agent died (status $s); starting it again" >&2',
  'done',
].join('\n');

function startAgent(paths: StatePaths, helperPath: string): Promise<string> {
  const [file, args] = selfCommand(helperPath, ['--state', paths.dir, 'agent']);
  // Never through a symlink planted where the log goes.
  const log = openSync(paths.log, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  // detached: a session of its own, so the SSH session ending (SIGHUP) does not reach it.
  const child = spawn('/bin/sh', ['-c', AGENT_SUPERVISOR, 'herd-agent-supervisor', file, ...args], { detached: true, stdio: ['ignore', 'pipe', log], cwd: paths.dir });
  child.unref();
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) {
        child.stdout!.destroy();
        resolve(text.trim());
      }
    });
    child.once('error', (err) => reject(new HerdError('HELPER_START', `cannot start the agent: ${err.message}`)));
    child.once('exit', (code) => {
      if (!text.includes('\n')) reject(new HerdError('HELPER_START', `the agent exited with status ${code} before it was ready (see ${paths.log})`));
    });
  });
}

async function reachAgent(paths: StatePaths, helperPath: string): Promise<Socket> {
  const first = await tryConnect(paths.socket);
  if (first !== null) return first;
  await startAgent(paths, helperPath);
  // Readiness comes through the agent's pipe; only when another contact won the start race
  // ("exists") may its socket not be listening yet, so retry briefly.
  const deadline = Date.now() + AGENT_START_TIMEOUT_MS;
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    const socket = await tryConnect(paths.socket);
    if (socket !== null) return socket;
    if (Date.now() > deadline) throw new HerdError('HELPER_START', `the agent did not come up on ${paths.socket}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** Who logged in over SSH and from where (sshd's SSH_CLIENT: "address port localport"), for the host's audit log. */
export function relayFacts(env: NodeJS.ProcessEnv): RelayFacts {
  let login: string | null = null;
  try {
    login = userInfo().username;
  } catch {
    login = env.USER ?? env.LOGNAME ?? null;
  }
  // Through sudo (--become), the SSH login is the one sudo names; sshd's SSH_CLIENT is gone.
  if (env.SUDO_USER !== undefined && env.SUDO_USER !== '' && env.SUDO_USER !== login) login = `${env.SUDO_USER} (sudo to ${login ?? 'root'})`;
  const [address, port] = (env.SSH_CLIENT ?? '').trim().split(/\s+/);
  const from = address === undefined || address === '' ? null : `${address.includes(':') ? `[${address}]` : address}${port === undefined ? '' : `:${port}`}`;
  return { t: 'relay', login, from };
}

/** The per-connection helper: a byte relay between the SSH channel (stdio) and the host's agent. */
export async function runRelay(paths: StatePaths, helperPath: string): Promise<void> {
  let socket: Socket;
  try {
    socket = await reachAgent(paths, helperPath);
  } catch (err) {
    const error = err instanceof HerdError ? err : new HerdError('HELPER_START', String(err));
    process.stdout.write(encodeFrame(FrameType.Error, 0, utf8(JSON.stringify({ code: error.code, message: error.message }))));
    process.exitCode = 1;
    return;
  }
  // Before the client's first byte: the agent takes it from the relay only, and only first.
  socket.write(encodeFrame(FrameType.Message, 0, utf8(JSON.stringify(relayFacts(process.env)))));
  process.stdin.pipe(socket);
  socket.pipe(process.stdout);
  process.stdin.on('end', () => socket.end());
  socket.on('close', () => process.exit(0));
  socket.on('error', () => process.exit(1));
}
