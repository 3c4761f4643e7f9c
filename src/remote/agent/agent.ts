import { chmodSync, closeSync, openSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import type { ConnectionOrigin } from '../audit/auditor.ts';
import type { BootstrapChannel } from './bootstrapChannel.ts';
import { buildAgentState } from './buildAgentState.ts';
import { serveConnection } from './connection.ts';
import { relayChannel, relayFacts } from './relay.ts';
import type { ByteReadable, ByteWritable } from '../../shared/wiredSession.ts';
import { DEFAULT_RETENTION_MS } from '../jobs/jobBook.ts';
import { MAX_AGENT_CONNECTIONS, MAX_CONNECTIONS_PER_SUBJECT, MAX_UNAUTHENTICATED_CONNECTIONS } from '../../protocol/limits.ts';
import { cgroupRemovalsSettled } from '../cgroups/jobCgroup.ts';
import { lockHolder } from './agentLock.ts';
import { BlobStore } from '../data/blobStore.ts';
import { pruneStages } from '../data/stageStore.ts';
import { stockOutputPipes } from '../jobs/jobOutput.ts';
import type { StatePaths } from '../../shared/agentPaths.ts';

/** How long a stopping agent waits for its spare launcher's cgroup to be removed. */
const SHUTDOWN_WAIT_MS = 2000;

/** An agent with no client and no running job for this long exits; the next contact starts a new one. */
export const AGENT_IDLE_EXIT_MS = 10 * 60 * 1000;

/** An idle agent beside one of another herd version exits after this long (its clients have moved on). */
const SUPERSEDED_IDLE_EXIT_MS = 5000;

const IDLE_CHECK_MS = 5000;

/** Whether the agent of another helper version runs on this state directory (its lock names a live pid). */
function otherAgentRuns(paths: StatePaths): boolean {
  let names: string[];
  try {
    names = readdirSync(paths.dir);
  } catch {
    return false;
  }
  return names.some((name) => {
    if (!/^agent-[0-9a-f]{12}\.lock$/.test(name) || join(paths.dir, name) === paths.lock) return false;
    const holder = lockHolder(join(paths.dir, name));
    return holder !== null && holder !== process.pid;
  });
}

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
      if (lockHolder(path) !== null) return false;
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

/**
 * How the agent was started: by a relay, which hears whether it is "ready" or another one "exists";
 * or by bootstrap.sh, whose SSH channel it serves as its first connection (or relays to the agent
 * that exists).
 */
export type AgentStart = { announce: (word: 'ready' | 'exists') => void } | { channel: BootstrapChannel };

/** Runs the agent. */
export function runAgent(paths: StatePaths, version: string, start: AgentStart): void {
  if (!acquireLock(paths.lock)) {
    if ('channel' in start) {
      const { channel } = start;
      // Another first contact started one a moment earlier: be the relay to it.
      void relayChannel(paths, channel.input, channel.output, relayFacts(process.env)).then(() => channel.close(), () => channel.close());
      return;
    }
    start.announce('exists');
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
      // Uploaded content unused as long as a finished job is kept, and stages no run took.
      new BlobStore(paths.blobs).prune(DEFAULT_RETENTION_MS);
      pruneStages(paths.stages);
    } catch (err) {
      process.stderr.write(`${new Date().toISOString()} herd agent: pruning old jobs failed: ${(err as Error).message}\n`);
    }
  };
  prune();
  setInterval(prune, 3600_000).unref?.();
  const connections = new Set<unknown>();
  let idleSince = Date.now();
  const shutdown = (): void => {
    removeQuietly(paths.socket);
    // The spare launcher's cgroup goes with it, and so do those of jobs that just ended (their
    // removal retries until the kernel has reaped the last process); bounded, so a stuck kernel
    // cannot hold the exit.
    const closing = (state.launchers?.close() ?? Promise.resolve()).then(cgroupRemovalsSettled);
    void Promise.race([closing, new Promise((resolve) => setTimeout(resolve, SHUTDOWN_WAIT_MS))]).finally(() => {
      removeQuietly(paths.lock);
      process.exit(0);
    });
  };
  removeQuietly(paths.socket);
  // Every connection is served until it closes; those still in the handshake are counted apart,
  // so a flood of idle ones cannot keep the host's clients out for long (each has HANDSHAKE_TIMEOUT_MS).
  const unauthenticated = new Set<unknown>();
  const bySubject = new Map<string, number>();
  /** Serves one connection; `onEnd` is given what to run once when the connection is over. */
  const serve = (input: ByteReadable, output: ByteWritable, onEnd: (ended: () => void) => void, origin?: ConnectionOrigin): void => {
    const connection = {};
    connections.add(connection);
    unauthenticated.add(connection);
    let released: (() => void) | null = null;
    onEnd(() => {
      connections.delete(connection);
      unauthenticated.delete(connection);
      released?.();
      idleSince = Date.now();
    });
    // Only the state directory's owner (and root) can reach the socket: its directory is 0700. The
    // bootstrap's channel is an SSH login as that owner.
    serveConnection(input, output, state, { owner: true }, ({ subject, ca }) => {
      unauthenticated.delete(connection);
      // Counted per certificate holder: the same subject of two CAs are two people.
      const holder = `${ca}/${subject}`;
      // One certificate cannot take every connection: the others' must still get in.
      const count = (bySubject.get(holder) ?? 0) + 1;
      if (count > MAX_CONNECTIONS_PER_SUBJECT) return false;
      bySubject.set(holder, count);
      released = () => {
        const left = (bySubject.get(holder) ?? 1) - 1;
        if (left > 0) bySubject.set(holder, left);
        else bySubject.delete(holder);
      };
      return true;
    }, origin);
  };
  const server = createServer((socket) => {
    if (connections.size >= MAX_AGENT_CONNECTIONS || unauthenticated.size >= MAX_UNAUTHENTICATED_CONNECTIONS) {
      socket.destroy();
      return;
    }
    socket.on('error', () => socket.destroy());
    // The session ends its side when it closes (after a last error frame); the connection goes too,
    // so a peer that keeps sending is not read any further.
    socket.on('finish', () => socket.destroy());
    serve(socket, socket, (ended) => socket.once('close', ended));
  });
  server.listen(paths.socket, () => {
    chmodSync(paths.socket, 0o600);
    if ('announce' in start) start.announce('ready');
  });
  if ('channel' in start) {
    const { channel } = start;
    // The same ending as a socket's: the session's last bytes written, or the channel gone.
    let over = false;
    const ended: Array<() => void> = [];
    const finish = (): void => {
      if (over) return;
      over = true;
      channel.close();
      for (const f of ended) f();
    };
    channel.output.on('finish', finish);
    channel.output.on('close', finish);
    channel.input.on('close', finish);
    const facts = relayFacts(process.env);
    serve(channel.input, channel.output, (f) => ended.push(f), { login: facts.login, from: facts.from });
  }
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
    // After an upgrade the new version's agent serves the new clients: this one goes as soon as it
    // has finished its own jobs and its last client has left.
    else if (Date.now() - idleSince >= SUPERSEDED_IDLE_EXIT_MS && otherAgentRuns(paths)) shutdown();
  }, IDLE_CHECK_MS).unref?.();
  // Keep the event loop alive through the server; the interval above is only a check.
}
