import { concat } from '../protocol/bytes.ts';
import { HerdError } from '../protocol/errors.ts';
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_TIMEOUT_MS } from '../protocol/limits.ts';
import { Session, type SessionEvents } from '../protocol/session.ts';

/** After the current macrotask, so promise continuations that send more join the same write. */
const defer: (fn: () => void) => void = typeof setImmediate === 'function' ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);

export interface ByteReadable {
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}
export interface ByteWritable {
  write(chunk: Uint8Array): boolean;
  end(): unknown;
  cork?(): void;
  uncork?(): void;
}

/** Whether corked writes reach the kernel as one writev (a node socket), so pieces need no joining. */
function gathers(writable: ByteWritable): boolean {
  return typeof writable.cork === 'function' && typeof (writable as { _writev?: unknown })._writev === 'function';
}

/**
 * Wires a protocol session to a pair of node-style streams and keeps a heartbeat:
 * a peer that sends no frame for HEARTBEAT_TIMEOUT_MS is treated as gone.
 */
export function wireSession(
  readable: ByteReadable,
  writable: ByteWritable,
  events: Omit<SessionEvents, 'send'>,
  heartbeat: { intervalMs: number; timeoutMs: number } = { intervalMs: HEARTBEAT_INTERVAL_MS, timeoutMs: HEARTBEAT_TIMEOUT_MS },
): Session {
  let timer: ReturnType<typeof setInterval> | undefined;
  // Frames sent in one turn of the event loop go out in one write: one packet through sshd
  // instead of several, which matters because sshd's forwarded channels run with Nagle on.
  let batch: Uint8Array[] = [];
  let scheduled = false;
  const gather = gathers(writable);
  const flush = (): void => {
    scheduled = false;
    if (batch.length === 0) return;
    const pieces = batch;
    batch = [];
    if (pieces.length === 1) writable.write(pieces[0]!);
    else if (gather) {
      writable.cork!();
      for (const piece of pieces) writable.write(piece);
      writable.uncork!();
    } else writable.write(concat(pieces));
  };
  const session = new Session({
    ...events,
    send(bytes) {
      batch.push(bytes);
      if (!scheduled) {
        scheduled = true;
        defer(flush);
      }
    },
    closed(error) {
      if (timer !== undefined) clearInterval(timer);
      flush();
      try {
        writable.end();
      } catch {
        // already closed
      }
      events.closed(error);
    },
  });
  readable.on('data', (chunk) => session.receive(chunk));
  const gone = (): void => session.fail(new HerdError('CONNECTION_LOST', 'the connection closed'));
  readable.on('end', gone);
  readable.on('close', gone);
  readable.on('error', (err) => session.fail(new HerdError('CONNECTION_LOST', `the connection failed: ${err.message}`, { cause: err })));
  let seen = session.framesReceived;
  let quietSince = Date.now();
  timer = setInterval(() => {
    if (session.framesReceived !== seen) {
      seen = session.framesReceived;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= heartbeat.timeoutMs) {
      session.fail(new HerdError('CONNECTION_LOST', `no answer from the peer for ${Math.round(heartbeat.timeoutMs / 1000)} s`));
      return;
    }
    session.ping();
  }, heartbeat.intervalMs);
  (timer as { unref?: () => void }).unref?.();
  return session;
}
