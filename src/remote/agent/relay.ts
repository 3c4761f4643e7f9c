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
import { lockHolder } from './agentLock.ts';
import AGENT_SUPERVISOR from '../supervisor.sh' with { type: 'text' };

/** How long a relay waits for an agent that another first contact is starting. */
const AGENT_START_TIMEOUT_MS = 5000;

function tryConnect(path: string): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(null));
  });
}

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
  // An agent that holds the lock and does not listen yet is still starting (another first contact's):
  // wait for it rather than start one more runtime only to hear "exists".
  if (lockHolder(paths.lock) === null) await startAgent(paths, helperPath);
  return awaitAgent(paths);
}

/** The agent's socket, retried briefly: another contact that won the start race may not listen yet. */
async function awaitAgent(paths: StatePaths): Promise<Socket> {
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

/** Bytes both ways between a client's stream pair and the agent's socket, after the relay's facts; settles when the socket closes. */
function splice(socket: Socket, input: NodeJS.ReadableStream, output: NodeJS.WritableStream, facts: RelayFacts): Promise<void> {
  // Before the client's first byte: the agent takes it from the relay only, and only first.
  socket.write(encodeFrame(FrameType.Message, 0, utf8(JSON.stringify(facts))));
  input.pipe(socket);
  socket.pipe(output);
  input.on('end', () => socket.end());
  return new Promise((resolve, reject) => {
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

function errorFrame(err: unknown): Uint8Array {
  const error = err instanceof HerdError ? err : new HerdError('HELPER_START', String(err));
  return encodeFrame(FrameType.Error, 0, utf8(JSON.stringify({ code: error.code, message: error.message })));
}

/** The per-connection helper: a byte relay between the SSH channel (stdio) and the host's agent. */
export async function runRelay(paths: StatePaths, helperPath: string): Promise<void> {
  let socket: Socket;
  try {
    socket = await reachAgent(paths, helperPath);
  } catch (err) {
    process.stdout.write(errorFrame(err));
    process.exitCode = 1;
    return;
  }
  await splice(socket, process.stdin, process.stdout, relayFacts(process.env)).then(() => process.exit(0), () => process.exit(1));
}

/** A bootstrap's channel relayed to the agent that another first contact just started. */
export async function relayChannel(paths: StatePaths, input: NodeJS.ReadableStream, output: NodeJS.WritableStream, facts: RelayFacts): Promise<void> {
  let socket: Socket;
  try {
    socket = await awaitAgent(paths);
  } catch (err) {
    await new Promise<void>((resolve) => output.end(errorFrame(err), () => resolve()));
    return;
  }
  await splice(socket, input, output, facts).catch(() => {});
}
