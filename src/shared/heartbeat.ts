import { HerdError } from '../protocol/errors.ts';
import type { Session } from '../protocol/session.ts';

export interface Heartbeat {
  /** A ping this often. */
  intervalMs: number;
  /** No frame at all from the peer for this long, and the session fails: CONNECTION_LOST. */
  timeoutMs: number;
}

/** Pings the peer and fails the session when it goes quiet; returns the way to stop. */
export function keepHeartbeat(session: Session, heartbeat: Heartbeat): () => void {
  let seen = session.framesReceived;
  let quietSince = Date.now();
  const timer = setInterval(() => {
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
  return () => clearInterval(timer);
}
