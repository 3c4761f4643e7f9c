import { chmodSync, closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { buildAgentState } from './buildAgentState.ts';
import { serveConnection } from './connection.ts';
import { DEFAULT_RETENTION_MS } from '../jobs/jobBook.ts';
import { MAX_AGENT_CONNECTIONS, MAX_CONNECTIONS_PER_SUBJECT, MAX_UNAUTHENTICATED_CONNECTIONS } from '../../protocol/limits.ts';
import { isLiveHelper } from '../system/processes.ts';
import { stockOutputPipes } from '../jobs/jobOutput.ts';
import type { StatePaths } from '../../shared/agentPaths.ts';

/** How long a stopping agent waits for its spare launcher's cgroup to be removed. */
const SHUTDOWN_WAIT_MS = 2000;

/** An agent with no client and no running job for this long exits; the next contact starts a new one. */
export const AGENT_IDLE_EXIT_MS = 10 * 60 * 1000;

/** One agent per state directory: an O_EXCL lock file holding its pid; a stale one (dead pid) is replaced. */
function acquireLock(path: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && isLiveHelper(holder)) return false;
      unlinkSync(path);
    }
  }
  return false;
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Runs the agent; `announce` tells the process that started it whether it is "ready" or another one "exists". */
export function runAgent(paths: StatePaths, version: string, announce: (word: 'ready' | 'exists') => void): void {
  if (!acquireLock(paths.lock)) {
    announce('exists');
    process.exit(0);
  }
  const state = buildAgentState(paths, version);
  const { book } = state;
  // Leases of jobs that are gone (the previous agent died, or the host rebooted) are freed.
  try {
    state.networks.reconcile();
  } catch (err) {
    process.stderr.write(`${new Date().toISOString()} herd agent: network reconcile failed: ${(err as Error).message}\n`);
  }
  state.launchers?.refill();
  // Jobs outlive agents: those of an agent that died are taken over; schedules are armed again
  // (overdue ones start now).
  try {
    book.sweep();
  } catch (err) {
    process.stderr.write(`${new Date().toISOString()} herd agent: taking over jobs failed: ${(err as Error).message}\n`);
  }
  state.scheduler.load();
  stockOutputPipes(paths.jobs);
  const prune = (): void => {
    try {
      book.prune(DEFAULT_RETENTION_MS);
    } catch (err) {
      process.stderr.write(`${new Date().toISOString()} herd agent: pruning old jobs failed: ${(err as Error).message}\n`);
    }
  };
  prune();
  setInterval(prune, 3600_000).unref?.();
  const connections = new Set<Socket>();
  let idleSince = Date.now();
  const shutdown = (): void => {
    removeQuietly(paths.socket);
    // The spare launcher's cgroup goes with it; bounded, so a stuck kernel cannot hold the exit.
    const closing = state.launchers?.close() ?? Promise.resolve();
    void Promise.race([closing, new Promise((resolve) => setTimeout(resolve, SHUTDOWN_WAIT_MS))]).finally(() => {
      removeQuietly(paths.lock);
      process.exit(0);
    });
  };
  removeQuietly(paths.socket);
  // Every connection is served until it closes; those still in the handshake are counted apart,
  // so a flood of idle ones cannot keep the host's clients out for long (each has HANDSHAKE_TIMEOUT_MS).
  const unauthenticated = new Set<Socket>();
  const bySubject = new Map<string, number>();
  const server = createServer((socket) => {
    if (connections.size >= MAX_AGENT_CONNECTIONS || unauthenticated.size >= MAX_UNAUTHENTICATED_CONNECTIONS) {
      socket.destroy();
      return;
    }
    connections.add(socket);
    unauthenticated.add(socket);
    socket.on('close', () => {
      connections.delete(socket);
      unauthenticated.delete(socket);
      idleSince = Date.now();
    });
    socket.on('error', () => socket.destroy());
    // The session ends its side when it closes (after a last error frame); the connection goes too,
    // so a peer that keeps sending is not read any further.
    socket.on('finish', () => socket.destroy());
    // Only the state directory's owner (and root) can reach this socket: its directory is 0700.
    serveConnection(socket, socket, state, { owner: true }, ({ subject, ca }) => {
      unauthenticated.delete(socket);
      // Counted per certificate holder: the same subject of two CAs are two people.
      const holder = `${ca}/${subject}`;
      // One certificate cannot take every connection: the others' must still get in.
      const count = (bySubject.get(holder) ?? 0) + 1;
      if (count > MAX_CONNECTIONS_PER_SUBJECT) return false;
      bySubject.set(holder, count);
      socket.once('close', () => {
        const left = (bySubject.get(holder) ?? 1) - 1;
        if (left > 0) bySubject.set(holder, left);
        else bySubject.delete(holder);
      });
      return true;
    });
  });
  server.listen(paths.socket, () => {
    chmodSync(paths.socket, 0o600);
    announce('ready');
  });
  // One bad request must not take every job's connection with it: record and go on.
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${new Date().toISOString()} herd agent: unexpected error: ${err.stack ?? err.message}\n`);
  });
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  setInterval(() => {
    // Running and scheduled jobs need their agent; so do clients.
    if (book.live.size > 0 || state.scheduler.pending > 0 || connections.size > 0) idleSince = Date.now();
    else if (Date.now() - idleSince >= AGENT_IDLE_EXIT_MS) shutdown();
  }, 30_000).unref?.();
  // Keep the event loop alive through the server; the interval above is only a check.
}
