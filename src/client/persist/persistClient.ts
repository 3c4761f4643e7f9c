import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { asHerdError, HerdError } from '../../protocol/errors.ts';
import { runtimeDir } from '../state/localState.ts';
import type { RawChannel } from '../transport/channel.ts';
import { bootstrapCommand } from '../transport/bootstrapCommand.ts';
import { once } from '../transport/nodelay.ts';
import { dialUnix, socketChannel } from '../transport/unixSocket.ts';
import { selfCommand } from '../../shared/runtime.ts';
import type { SshConnection, SshOptions, SshTarget } from '../transport/sshConnection.ts';
import { firstLine } from './firstLine.ts';
import {
  answerError,
  clientProof,
  daemonProof,
  parseAnswer,
  parseLine,
  PERSIST_KEY_BYTES,
  PERSIST_PROTOCOL,
  proofMatches,
  type PersistAnswer,
  type PersistChallenge,
  type PersistHello,
  type PersistRequest,
} from './persistProtocol.ts';

/** How long a freshly started daemon may take to answer. */
const DAEMON_START_MS = 5000;

export function persistPaths(): { socket: string; pid: string; log: string; key: string } {
  const dir = runtimeDir();
  const base = join(dir, `persist-v${PERSIST_PROTOCOL}`);
  return { socket: `${base}.sock`, pid: `${base}.pid`, log: `${base}.log`, key: `${base}.key` };
}

/** The daemon's key, read without following a link, from a file of ours that only we can read. */
export function readPersistKey(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    throw new HerdError('PROTOCOL', `the --persist daemon's key ${path} cannot be read: ${(err as Error).message}`, { hint: 'herd persist stop, then run again' });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== (process.getuid?.() ?? 0) || (st.mode & 0o077) !== 0 || st.size !== PERSIST_KEY_BYTES) {
      throw new HerdError('STATE_UNSAFE', `${path} is not the --persist daemon's private key (a 0600 file of yours, ${PERSIST_KEY_BYTES} bytes)`, { hint: 'remove it and run herd persist stop' });
    }
    const key = Buffer.alloc(PERSIST_KEY_BYTES);
    readSync(fd, key, 0, PERSIST_KEY_BYTES, 0);
    return key;
  } finally {
    closeSync(fd);
  }
}

/**
 * Proves each side to the other before anything else is said (see persistProtocol.ts): a socket
 * that answers but cannot prove it holds the key is not our daemon, and gets nothing.
 */
async function greet(socket: Socket, keyPath: string): Promise<{ socket: Socket; auth: string }> {
  const clientNonce = randomBytes(24).toString('base64url');
  const hello: PersistHello = { v: PERSIST_PROTOCOL, nonce: clientNonce };
  socket.write(`${JSON.stringify(hello)}\n`);
  const first = await firstLine(socket);
  if (first === null) throw new HerdError('CONNECTION_LOST', 'the --persist daemon closed the connection before answering');
  const challenge = parseLine<PersistChallenge>(first.line, ['nonce', 'proof'], 'challenge');
  const key = readPersistKey(keyPath);
  if (!proofMatches(daemonProof(key, clientNonce, challenge.nonce), challenge.proof)) {
    socket.destroy();
    throw new HerdError('STATE_UNSAFE', `what answers on the --persist socket cannot prove it is your daemon; nothing was sent to it`, { hint: 'herd persist stop, then look at who owns the runtime directory' });
  }
  if (first.rest.length > 0) socket.unshift(first.rest);
  socket.resume();
  return { socket, auth: clientProof(key, challenge.nonce, clientNonce) };
}

/** The running daemon's pid, if its pid file names a live process. */
export function persistDaemonPid(): number | null {
  const { pid } = persistPaths();
  if (!existsSync(pid)) return null;
  const value = Number(readFileSync(pid, 'utf8').trim());
  if (!Number.isInteger(value) || value <= 0) return null;
  try {
    process.kill(value, 0);
    return value;
  } catch {
    return null;
  }
}

/** This process's start of the daemon: the hosts of one run, all asking at once, start one. */
let starting: Promise<void> | null = null;

/** A connection to the daemon, starting one (detached, in its own session) if none answers. */
async function dialDaemon(persistMs: number): Promise<Socket> {
  const { socket: path, pid } = persistPaths();
  const first = await dialUnix(path);
  if (first !== null) return first;
  starting ??= (async () => {
    // This same CLI under this same runtime.
    const [command, args] = selfCommand(process.argv[1] ?? '', ['__persist-daemon', '--socket', path, '--pid-file', pid, '--persist-ms', String(persistMs)]);
    spawn(command, args, { detached: true, stdio: 'ignore' }).unref();
    const deadline = Date.now() + DAEMON_START_MS;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      const probe = await dialUnix(path);
      if (probe !== null) {
        probe.destroy();
        return;
      }
    }
    throw new HerdError('INTERNAL', `the --persist daemon did not start (no answer on ${path})`, { hint: 'run again with --persist 0 to connect directly' });
  })();
  await starting;
  const socket = await dialUnix(path);
  if (socket === null) throw new HerdError('INTERNAL', `the --persist daemon stopped answering on ${path}`, { hint: 'run again with --persist 0 to connect directly' });
  return socket;
}

/**
 * An SshConnection whose channels are opened by the --persist daemon on a connection it keeps:
 * after the first invocation, a host costs one unix connection and one SSH channel open, not a
 * TCP connect, key exchange and authentication.
 */
export function connectPersisted(target: SshTarget, options: SshOptions, persistMs: number): SshConnection {
  // Every hop the daemon may need, a first hop's own ProxyJump included (see reach() in ssh.ts).
  const jumps: Record<string, SshTarget> = {};
  const collect = (of: SshTarget, depth: number): void => {
    for (const spec of of.ssh?.proxyJump ?? []) {
      if (spec in jumps || depth > 8) continue;
      if (options.jumpTarget === undefined) throw new HerdError('INTERNAL', 'no way to resolve ProxyJump hosts');
      jumps[spec] = options.jumpTarget(spec);
      collect(jumps[spec]!, depth + 1);
    }
  };
  collect(target, 0);
  const authSock = process.env.SSH_AUTH_SOCK;
  // Whether the daemon had the connection before our first request: later ones always find it.
  let reused: boolean | undefined;
  const open = async (what: PersistRequest['open']): Promise<RawChannel | null> => {
    const { socket, auth } = await dialDaemon(persistMs).then((s) => greet(s, persistPaths().key));
    const request: PersistRequest = {
      v: PERSIST_PROTOCOL,
      auth,
      target,
      jumps,
      acceptNew: options.acceptNew,
      connectTimeoutMs: target.ssh?.connectTimeoutMs ?? options.connectTimeoutMs,
      ...(options.knownHostsFile === undefined ? {} : { knownHostsFile: options.knownHostsFile }),
      ...(authSock === undefined || authSock === '' ? {} : { authSock }),
      persistMs,
      open: what,
    };
    // The daemon going away shows as the socket closing (readAnswer, the session).
    socket.on('error', () => socket.destroy());
    socket.write(`${JSON.stringify(request)}\n`);
    const { answer, rest } = await readAnswer(socket, target.name);
    if (answer.ok || answer.refused === true) reused ??= answer.reused;
    if (!answer.ok) {
      socket.destroy();
      if (answer.refused === true) return null;
      throw answerError(answer, target.name);
    }
    if (rest.length > 0) socket.unshift(rest);
    return socketChannel(socket);
  };
  return {
    cheapForward: true,
    alive: () => true,
    reused: () => reused === true,
    bootstrap: async (helper, become) => (await open({ kind: 'exec', command: bootstrapCommand(helper, become, options.shipRuntime) }))!,
    exec: async (command) => (await open({ kind: 'exec', command }))!,
    // The daemon runs the `true` on its connection, once however many herd processes ask.
    bulk: once(() => {
      open({ kind: 'nodelay' }).then(
        (channel) => channel?.close(),
        () => {},
      );
    }),
    forward: (socketPath) => open({ kind: 'forward', socketPath }),
    // The daemon keeps the SSH connection; our channels end with their sockets.
    close: () => {},
  };
}

async function readAnswer(socket: Socket, host: string): Promise<{ answer: PersistAnswer; rest: Buffer }> {
  try {
    const first = await firstLine(socket);
    if (first === null) throw new HerdError('CONNECTION_LOST', 'the --persist daemon closed the connection before answering');
    return { answer: parseAnswer(first.line), rest: first.rest };
  } catch (err) {
    socket.destroy();
    throw asHerdError(err).withHost(host);
  }
}
