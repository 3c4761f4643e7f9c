import { concat } from '../protocol/bytes.ts';
import { coalesce, gathers } from './coalesce.ts';
import { keepHeartbeat, type Heartbeat } from './heartbeat.ts';
import { HerdError } from '../protocol/errors.ts';
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_TIMEOUT_MS, TRANSPORT_HIGH_WATER, TRANSPORT_READ_STOP } from '../protocol/limits.ts';
import { Session, type SessionEvents } from '../protocol/session.ts';

/** After the current macrotask, so promise continuations that send more join the same write. */
const defer: (fn: () => void) => void = typeof setImmediate === 'function' ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);

export interface ByteReadable {
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  pause?(): unknown;
  resume?(): unknown;
}
export interface ByteWritable {
  write(chunk: Uint8Array): boolean;
  end(): unknown;
  cork?(): void;
  uncork?(): void;
  /** Ends the stream at once, whatever is still unwritten (node streams). */
  destroy?(): unknown;
  /** Bytes accepted by write() and not yet handed to the kernel (node streams). */
  readonly writableLength?: number;
  on?(event: 'drain', listener: () => void): unknown;
}

/** How long a closed session's last bytes may take to leave before its transport is destroyed. */
const CLOSE_LINGER_MS = 5000;

/**
 * Wires a protocol session to a pair of node-style streams: frames of one event-loop turn go out
 * in one write (coalesce.ts), and a heartbeat (heartbeat.ts) treats a peer that sends no frame
 * for HEARTBEAT_TIMEOUT_MS as gone.
 *
 * Backpressure: what the session has handed over and the stream has not yet written is counted;
 * above TRANSPORT_HIGH_WATER the session keeps stream data in its queues (their producers pause),
 * and above TRANSPORT_READ_STOP (control frames only: a peer that asks and never reads) it stops
 * reading the peer, until the stream drains. A peer that does not read stalls only itself.
 */
export function wireSession(
  readable: ByteReadable,
  writable: ByteWritable,
  events: Omit<SessionEvents, 'send'>,
  heartbeat: Heartbeat = { intervalMs: HEARTBEAT_INTERVAL_MS, timeoutMs: HEARTBEAT_TIMEOUT_MS },
): Session {
  let stopHeartbeat = (): void => {};
  // Frames sent in one turn of the event loop go out in one write: one packet through sshd
  // instead of several, which matters because sshd's forwarded channels run with Nagle on.
  let batch: Uint8Array[] = [];
  let scheduled = false;
  let batchBytes = 0;
  let readingStopped = false;
  /** The session held stream data back: it must hear when there is room again. */
  let held = false;
  const gather = gathers(writable);
  const unwritten = (): number => batchBytes + (writable.writableLength ?? 0);
  const flush = (): void => {
    scheduled = false;
    if (batch.length === 0) return;
    const pieces = batch;
    batch = [];
    batchBytes = 0;
    if (pieces.length === 1) writable.write(pieces[0]!);
    else if (gather) {
      // Big pieces (stream data) go as they are; runs of small ones (headers, pongs, credit) are
      // joined, since a stream keeps ~100 bytes of bookkeeping per write however small.
      writable.cork!();
      for (const piece of coalesce(pieces)) writable.write(piece);
      writable.uncork!();
    } else writable.write(concat(pieces));
    if (!readingStopped && unwritten() > TRANSPORT_READ_STOP && typeof readable.pause === 'function') {
      readingStopped = true;
      readable.pause();
    }
    // Held back only by our own batch, which the kernel took at once: no 'drain' will come.
    if (held && unwritten() < TRANSPORT_HIGH_WATER) {
      held = false;
      session.resumeSending();
    }
  };
  writable.on?.('drain', () => {
    held = false;
    if (readingStopped) {
      readingStopped = false;
      readable.resume?.();
    }
    session.resumeSending();
  });
  const session = new Session({
    ...events,
    send(bytes) {
      batch.push(bytes);
      batchBytes += bytes.length;
      if (!scheduled) {
        scheduled = true;
        defer(flush);
      }
    },
    canSend: () => {
      if (unwritten() < TRANSPORT_HIGH_WATER) return true;
      held = true;
      return false;
    },
    closed(error) {
      stopHeartbeat();
      flush();
      try {
        writable.end();
      } catch {
        // already closed
      }
      // A peer that does not read would keep what is left (and the connection) for ever.
      const linger = setTimeout(() => writable.destroy?.(), CLOSE_LINGER_MS);
      (linger as { unref?: () => void }).unref?.();
      events.closed(error);
    },
  });
  readable.on('data', (chunk) => session.receive(chunk));
  const gone = (): void => session.fail(new HerdError('CONNECTION_LOST', 'the connection closed'));
  readable.on('end', gone);
  readable.on('close', gone);
  readable.on('error', (err) => session.fail(new HerdError('CONNECTION_LOST', `the connection failed: ${err.message}`, { cause: err })));
  stopHeartbeat = keepHeartbeat(session, heartbeat);
  return session;
}
