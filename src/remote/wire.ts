import { HerdError } from '../protocol/errors.ts';
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_TIMEOUT_MS } from '../protocol/limits.ts';
import { Session, type SessionEvents } from '../protocol/session.ts';

export interface ByteReadable {
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}
export interface ByteWritable {
  write(chunk: Uint8Array): boolean;
  end(): unknown;
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
  const session = new Session({
    ...events,
    send(bytes) {
      writable.write(bytes);
    },
    closed(error) {
      if (timer !== undefined) clearInterval(timer);
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
