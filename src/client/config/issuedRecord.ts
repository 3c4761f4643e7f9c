import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { CertBody, CertRole } from '../../protocol/cert.ts';
import { revocationOf, type Revocations } from '../../protocol/revocations.ts';
import { cacheDir } from '../state/localState.ts';

/** One certificate a CA holder's client signed: for people (herd cert issue, renew, rotate) and hosts (enrolment). */
export interface IssuedEntry {
  /** When it was signed, ISO 8601. */
  time: string;
  serial: string;
  subject: string;
  role: CertRole;
  notBefore: number;
  notAfter: number;
  /** Key id of the CA that signed it. */
  ca: string;
  /** The holder's public key (base64url): a renewal keeps it, a new holder has another. */
  publicKey: string;
  /** Host certificates: the name the host was dialled by (-H). */
  dialled?: string;
}

/**
 * The record lives beside the config that holds the CA (config.yml → config.issued.jsonl), so it
 * travels with the CA key; lines are appended whole (O_APPEND), so herd processes running at once
 * lose none.
 */
export function issuedRecordPath(configPath: string): string {
  return join(dirname(configPath), `${basename(configPath, extname(configPath))}.issued.jsonl`);
}

export function entryOf(body: CertBody, time: Date, dialled?: string): IssuedEntry {
  return {
    time: time.toISOString(),
    serial: body.serial,
    subject: body.subject,
    role: body.role,
    notBefore: body.notBefore,
    notAfter: body.notAfter,
    ca: body.issuer,
    publicKey: body.publicKey,
    ...(dialled === undefined ? {} : { dialled }),
  };
}

export function recordIssued(configPath: string, entry: IssuedEntry): void {
  const path = issuedRecordPath(configPath);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    appendFileSync(path, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  } catch {
    // A read-only directory loses the record, not the run; herd cert list says what it holds.
  }
}

function isEntry(value: unknown): value is IssuedEntry {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return ['time', 'serial', 'subject', 'role', 'ca', 'publicKey'].every((k) => typeof e[k] === 'string') && Number.isSafeInteger(e.notBefore) && Number.isSafeInteger(e.notAfter);
}

/** The entries of the record, oldest first; lines that are not entries (a torn write, an edit) are counted, not used. */
export function readIssued(configPath: string): { entries: IssuedEntry[]; unreadable: number; path: string } {
  const path = issuedRecordPath(configPath);
  const entries: IssuedEntry[] = [];
  let unreadable = 0;
  const sources = [path];
  // Host certificates signed before the record lived beside the config (herd ≤ 0.7).
  const legacy = join(cacheDir(), 'enrolments.jsonl');
  if (existsSync(legacy)) sources.unshift(legacy);
  for (const source of sources) {
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const value: unknown = JSON.parse(line);
        if (isEntry(value)) entries.push(value);
        else if (source === legacy) {
          const old = value as { time?: string; dialled?: string; subject?: string; hostKey?: string; ca?: string };
          // The old record knew no serial or validity: the host certificate it names is shown without them.
          if (typeof old.subject === 'string' && typeof old.ca === 'string' && typeof old.hostKey === 'string') {
            entries.push({ time: old.time ?? '', serial: '', subject: old.subject, role: 'host', notBefore: 0, notAfter: 0, ca: old.ca, publicKey: old.hostKey, ...(old.dialled === undefined ? {} : { dialled: old.dialled }) });
          } else unreadable++;
        } else unreadable++;
      } catch {
        unreadable++;
      }
    }
  }
  return { entries, unreadable, path };
}

export type CertStatus = 'valid' | 'expired' | 'revoked' | 'old-ca';

/**
 * What an entry is now: revoked (by the CA's list), expired, issued by a CA this config no longer
 * uses (`currentCa`, after herd ca rotate: good only where hosts still trust that CA), or valid.
 */
export function statusOf(entry: IssuedEntry, revocations: Revocations | null, nowSeconds: number, currentCa?: string): { status: CertStatus; why?: string } {
  if (revocations !== null && revocations.issuer === entry.ca) {
    const why = revocationOf(revocations, { serial: entry.serial, subject: entry.subject, notBefore: entry.notBefore });
    if (why !== null) return { status: 'revoked', why };
  }
  if (entry.notAfter !== 0 && entry.notAfter < nowSeconds) return { status: 'expired' };
  if (currentCa !== undefined && entry.ca !== currentCa) return { status: 'old-ca', why: `issued by CA ${entry.ca}, which this config no longer uses: good only where hosts still trust it` };
  return { status: 'valid' };
}
