import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../state/localState.ts';

/** One host certificate this admin's client signed at enrolment. */
export interface Enrolment {
  time: string;
  /** The host as it was dialled (-H), and the subject the certificate names. */
  dialled: string;
  subject: string;
  /** The herd host key signed (base64url) and the CA that signed it (key id). */
  hostKey: string;
  ca: string;
}

export const ENROLMENTS_FILE = 'enrolments.jsonl';

/**
 * Appends to $XDG_CACHE_HOME/herd/enrolments.jsonl: every host certificate an admin signs is on
 * record, so a host enrolled by mistake (or by an impostor the SSH host key check let through)
 * can be found and re-keyed.
 */
export function recordEnrolment(entry: Enrolment): void {
  try {
    mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
    appendFileSync(join(cacheDir(), ENROLMENTS_FILE), `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  } catch {
    // A read-only cache loses the record, not the run.
  }
}
