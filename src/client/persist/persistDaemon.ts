import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { replaceFile } from '../../shared/replaceFile.ts';
import { createServer, type Server, type Socket } from 'node:net';
import { asHerdError, HerdError } from '../../protocol/errors.ts';
import { connectSsh } from '../transport/ssh2.ts';
import type { SshConnection, SshTarget } from '../transport/sshConnection.ts';
import type { RawChannel } from '../transport/channel.ts';
import { dialUnix } from '../transport/unixSocket.ts';
import { firstLine } from './firstLine.ts';
import {
  clientProof,
  connectionKey,
  daemonProof,
  parseLine,
  parseRequest,
  PERSIST_KEY_BYTES,
  PERSIST_PROTOCOL,
  proofMatches,
  type PersistAnswer,
  type PersistChallenge,
  type PersistHello,
  type PersistRequest,
} from './persistProtocol.ts';

/** How often idle connections (and the daemon itself) are looked at. */
const SWEEP_MS = 1000;

interface Pooled {
  connection: Promise<SshConnection>;
  channels: number;
  lastUsed: number;
}

/**
 * The per-user background process of --persist: holds SSH connections (ssh2) and opens channels on
 * them for short-lived herd processes, which reach it on a unix socket in their private runtime
 * directory. A connection unused for the persist time is closed; with none left, the daemon exits.
 */
export async function runPersistDaemon(socketPath: string, pidPath: string, initialPersistMs: number): Promise<void> {
  let persistMs = initialPersistMs;
  let lastActivity = Date.now();
  let active = 0;
  const pool = new Map<string, Pooled>();
  const log = daemonLog(pidPath.replace(/\.pid$/, '.log'));

  log('starting');
  const server = await listenOnce(socketPath);
  if (server === null) {
    log('another daemon answers on the socket; leaving it to that one');
    return;
  }
  const daemonKey = writeKey(pidPath.replace(/\.pid$/, '.key'));
  writeFileSync(pidPath, `${process.pid}\n`);
  log(`listening on ${socketPath}, keeping unused connections ${persistMs} ms`);

  const shutdown = (why: string): void => {
    log(`exiting: ${why}`);
    server.close();
    if (existsSync(pidPath)) rmSync(pidPath, { force: true });
    rmSync(pidPath.replace(/\.pid$/, '.key'), { force: true });
    rmSync(socketPath, { force: true });
    for (const entry of pool.values()) void entry.connection.then((c) => c.close(), () => {});
    // Closing ssh2 connections is asynchronous; nothing of ours needs to outlive this moment.
    setTimeout(() => process.exit(0), 100);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM (herd persist stop)'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  setInterval(() => {
    const now = Date.now();
    for (const [key, entry] of pool) {
      if (entry.channels === 0 && now - entry.lastUsed >= persistMs) {
        pool.delete(key);
        void entry.connection.then((c) => c.close(), () => {});
      }
    }
    if (pool.size === 0 && active === 0 && now - lastActivity >= persistMs) shutdown(`unused for ${persistMs} ms`);
  }, SWEEP_MS);

  server.on('connection', (socket) => {
    active++;
    lastActivity = Date.now();
    socket.once('close', () => {
      active--;
      lastActivity = Date.now();
    });
    socket.on('error', () => socket.destroy());
    void serve(socket).catch((err) => {
      const error = asHerdError(err);
      if (!socket.destroyed) log(`refused a request: ${error.code} ${error.message}`);
      answer(socket, { ok: false, error: error.toJSON() });
      socket.end();
    });
  });

  async function serve(socket: Socket): Promise<void> {
    // A client that only checked we answer (a probe) leaves without a word: nothing to say.
    const greeting = await firstLine(socket);
    if (greeting === null) return;
    const hello = parseLine<PersistHello>(greeting.line, ['v', 'nonce'], 'hello');
    if (hello.v !== PERSIST_PROTOCOL) throw new HerdError('VERSION_MISMATCH', `persist daemon speaks version ${PERSIST_PROTOCOL}, not ${String(hello.v)}`);
    const daemonNonce = randomBytes(24).toString('base64url');
    const challenge: PersistChallenge = { nonce: daemonNonce, proof: daemonProof(daemonKey, hello.nonce, daemonNonce) };
    socket.write(`${JSON.stringify(challenge)}\n`);
    if (greeting.rest.length > 0) socket.unshift(greeting.rest);
    socket.resume();
    const read = await readRequest(socket);
    if (read === null) return;
    const { request, rest } = read;
    if (!proofMatches(clientProof(daemonKey, daemonNonce, hello.nonce), request.auth)) {
      throw new HerdError('PERMISSION_DENIED', 'persist daemon: the client could not prove it can read this daemon\'s key');
    }
    persistMs = request.persistMs;
    const key = connectionKey(request);
    let entry = pool.get(key);
    const stale = entry !== undefined && !(await entry.connection.then((c) => c.alive(), () => false));
    const reused = entry !== undefined && !stale;
    if (entry === undefined || stale) {
      entry = { connection: connectFor(request), channels: 0, lastUsed: Date.now() };
      pool.set(key, entry);
      // A failed connection is not kept: the next request tries afresh.
      const failed = entry;
      failed.connection.catch(() => pool.get(key) === failed && pool.delete(key));
    }
    const connection = await entry.connection;
    if (request.open.kind === 'nodelay') {
      // Once per kept connection, whichever herd process asks.
      connection.bulk?.();
      answer(socket, { ok: true, reused });
      socket.end();
      return;
    }
    entry.channels++;
    entry.lastUsed = Date.now();
    let channel: RawChannel | null;
    try {
      channel = request.open.kind === 'forward' ? await connection.forward(request.open.socketPath) : await connection.exec!(request.open.command);
    } catch (err) {
      entry.channels--;
      throw err;
    }
    if (channel === null) {
      entry.channels--;
      answer(socket, { ok: false, refused: true, reused });
      socket.end();
      return;
    }
    answer(socket, { ok: true, reused });
    const done = (): void => {
      if (entry === undefined) return;
      entry.channels--;
      entry.lastUsed = Date.now();
      entry = undefined;
    };
    splice(socket, channel, rest, done);
  }

  function connectFor(request: PersistRequest): Promise<SshConnection> {
    return connectSsh(request.target, {
      transport: 'ssh2',
      acceptNew: request.acceptNew,
      connectTimeoutMs: request.connectTimeoutMs,
      ...(request.knownHostsFile === undefined ? {} : { knownHostsFile: request.knownHostsFile }),
      ...(request.authSock === undefined ? {} : { authSock: request.authSock }),
      jumpTarget: (spec: string): SshTarget => {
        const hop = request.jumps[spec];
        if (hop === undefined) throw new HerdError('INTERNAL', `ProxyJump ${spec} was not resolved by the client`);
        return hop;
      },
    });
  }
}

/**
 * A fresh key for this daemon's life, in the private runtime directory: created under a temporary
 * name (exclusively, 0600, never through a link), then renamed into place.
 */
function writeKey(path: string): Uint8Array {
  const key = randomBytes(PERSIST_KEY_BYTES);
  replaceFile(path, key, 0o600);
  return key;
}

/** Log lines, for `herd persist status`'s reader: when the daemon started, why it refused or exited. */
function daemonLog(path: string): (line: string) => void {
  try {
    // Kept small: a long-lived user's log is started afresh past 1 MiB.
    if (existsSync(path) && statSync(path).size > 1024 * 1024) rmSync(path, { force: true });
  } catch {
    // a log is never worth failing for
  }
  return (line) => {
    try {
      appendFileSync(path, `${new Date().toISOString()} pid ${process.pid}: ${line}\n`, { mode: 0o600 });
    } catch {
      // see above
    }
  };
}

function answer(socket: Socket, value: PersistAnswer): void {
  if (!socket.destroyed) socket.write(`${JSON.stringify(value)}\n`);
}

/** Bytes both ways between a client's unix connection and its SSH channel; either end closing ends both. */
function splice(socket: Socket, channel: RawChannel, early: Buffer, done: () => void): void {
  if (early.length > 0) channel.stdin.write(early);
  socket.pipe(channel.stdin as NodeJS.WritableStream);
  (channel.stdout as NodeJS.ReadableStream).pipe(socket);
  channel.stderr.resume();
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    done();
    socket.end();
    channel.close();
  };
  socket.once('close', end);
  void channel.exited.then(end);
}

/** The client's request and what followed it; null for a client that left without one (a probe). */
async function readRequest(socket: Socket): Promise<{ request: PersistRequest; rest: Buffer } | null> {
  const first = await firstLine(socket);
  return first === null ? null : { request: parseRequest(first.line), rest: first.rest };
}

/** Listens on the socket, taking over a stale one; null when a live daemon already answers there. */
async function listenOnce(socketPath: string): Promise<Server | null> {
  const tryListen = (): Promise<Server | NodeJS.ErrnoException> =>
    new Promise((resolve) => {
      const server = createServer();
      server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
      server.listen(socketPath, () => resolve(server));
    });
  const first = await tryListen();
  if (!(first instanceof Error)) return first;
  if (first.code !== 'EADDRINUSE') throw first;
  const probe = await dialUnix(socketPath);
  if (probe !== null) {
    probe.destroy();
    return null;
  }
  rmSync(socketPath, { force: true });
  const second = await tryListen();
  if (second instanceof Error) throw second;
  return second;
}
