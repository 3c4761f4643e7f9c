import { concat, fromBase64Url, fromUtf8, toBase64Url, toHex, utf8 } from './bytes.ts';
import { issuedAt, keyId, sign, verifySignature, type CertBody, type KeyPair } from './cert.ts';
import { HerdError } from './errors.ts';

/*
 * A CA's revocation list, signed by the CA and versioned: a host keeps the newest it has seen and
 * never goes back to an older one. Text form (base64url parts, none of which holds a "."):
 *   herdrl1.<header JSON>.<serials>.<signature>
 * header: { v: 1, version, issuer (CA key id), issuedAt, subjects: [{ subject, before }] };
 * serials: the revoked serials as raw 8-byte values, sorted (10,000 of them are 80 KB, 107 KB as
 * text, well inside one protocol message); signature: the CA's over
 * "herd-revocations-v1" ‖ header part ‖ "." ‖ serials part.
 */
export const REVOCATIONS_PREFIX = 'herdrl1';
const DOMAIN = utf8('herd-revocations-v1');
const SERIAL_BYTES = 8;
/** More revoked serials than this and the list no longer fits in one message with room to spare. */
export const MAX_REVOKED_SERIALS = 20_000;
export const MAX_REVOKED_SUBJECTS = 10_000;

/** A subject's certificates issued before a time are revoked (Teleport's lock). */
export interface SubjectLock {
  subject: string;
  /** Unix seconds: certificates issued earlier (notBefore + its slack) are refused. */
  before: number;
}

export interface Revocations {
  version: number;
  /** Key id of the CA that signed it. */
  issuer: string;
  issuedAt: number;
  serials: ReadonlySet<string>;
  subjects: readonly SubjectLock[];
}

function invalid(what: string): never {
  throw new HerdError('CERT_INVALID', `malformed revocation list: ${what}`);
}

/** Signs a list; serials are 16 hex digits, as certificates carry them. */
export function signRevocations(list: { version: number; serials: Iterable<string>; subjects: readonly SubjectLock[] }, ca: KeyPair, nowSeconds: number): string {
  const serials = [...new Set(list.serials)].sort();
  if (serials.length > MAX_REVOKED_SERIALS) throw new HerdError('LIMIT', `a revocation list holds at most ${MAX_REVOKED_SERIALS} serials`);
  if (list.subjects.length > MAX_REVOKED_SUBJECTS) throw new HerdError('LIMIT', `a revocation list holds at most ${MAX_REVOKED_SUBJECTS} subjects`);
  const packed = new Uint8Array(serials.length * SERIAL_BYTES);
  serials.forEach((serial, i) => {
    if (!/^[0-9a-f]{16}$/.test(serial)) throw new HerdError('INVALID_SPEC', `"${serial}" is not a certificate serial (16 hex digits)`);
    for (let b = 0; b < SERIAL_BYTES; b++) packed[i * SERIAL_BYTES + b] = Number.parseInt(serial.slice(b * 2, b * 2 + 2), 16);
  });
  const header = toBase64Url(utf8(JSON.stringify({ v: 1, version: list.version, issuer: keyId(ca.publicKey), issuedAt: nowSeconds, subjects: list.subjects })));
  const body = toBase64Url(packed);
  const signature = sign(concat([DOMAIN, utf8(`${header}.${body}`)]), ca.secretKey);
  return `${REVOCATIONS_PREFIX}.${header}.${body}.${toBase64Url(signature)}`;
}

/** Reads and checks a list against the CA `caKey`: CERT_INVALID when malformed, CERT_UNTRUSTED when another CA's. */
export function parseRevocations(text: string, caKey: Uint8Array): Revocations {
  const parts = text.trim().split('.');
  if (parts.length !== 4 || parts[0] !== REVOCATIONS_PREFIX) invalid(`expected ${REVOCATIONS_PREFIX}.<header>.<serials>.<signature>`);
  let header: unknown;
  let packed: Uint8Array;
  let signature: Uint8Array;
  try {
    header = JSON.parse(fromUtf8(fromBase64Url(parts[1]!)));
    packed = fromBase64Url(parts[2]!);
    signature = fromBase64Url(parts[3]!);
  } catch {
    invalid('not base64url');
  }
  if (typeof header !== 'object' || header === null) invalid('the header is not an object');
  const h = header as Record<string, unknown>;
  if (h.v !== 1) invalid(`unsupported format ${JSON.stringify(h.v)}`);
  if (!Number.isSafeInteger(h.version) || (h.version as number) < 1) invalid('version');
  if (!Number.isSafeInteger(h.issuedAt)) invalid('issuedAt');
  if (typeof h.issuer !== 'string') invalid('issuer');
  const ca = keyId(caKey);
  if (h.issuer !== ca) throw new HerdError('CERT_UNTRUSTED', `the revocation list was signed by CA ${String(h.issuer)}, not by the trusted CA ${ca}`);
  if (!verifySignature(concat([DOMAIN, utf8(`${parts[1]}.${parts[2]}`)]), signature, caKey)) {
    throw new HerdError('CERT_UNTRUSTED', `the revocation list's signature does not verify against CA ${ca}`);
  }
  if (packed.length % SERIAL_BYTES !== 0 || packed.length / SERIAL_BYTES > MAX_REVOKED_SERIALS) invalid('serials');
  if (!Array.isArray(h.subjects) || h.subjects.length > MAX_REVOKED_SUBJECTS) invalid('subjects');
  const subjects = (h.subjects as unknown[]).map((entry): SubjectLock => {
    const e = entry as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || typeof e.subject !== 'string' || !Number.isSafeInteger(e.before)) invalid('subjects[]');
    return { subject: e.subject, before: e.before as number };
  });
  const serials = new Set<string>();
  for (let i = 0; i < packed.length; i += SERIAL_BYTES) serials.add(toHex(packed.subarray(i, i + SERIAL_BYTES)));
  return { version: h.version as number, issuer: ca, issuedAt: h.issuedAt as number, serials, subjects };
}

/** The version a list says it is, from its header alone (no check: for a client choosing whether to send its own). */
export function revocationsVersion(text: string): number {
  try {
    const version = (JSON.parse(fromUtf8(fromBase64Url(text.split('.')[1] ?? ''))) as { version?: unknown }).version;
    return Number.isSafeInteger(version) ? (version as number) : 0;
  } catch {
    return 0;
  }
}

/** Why `cert` is revoked by `list`, in a few words, or null. */
export function revocationOf(list: Revocations, cert: Pick<CertBody, 'serial' | 'subject' | 'notBefore'>): string | null {
  if (list.serials.has(cert.serial)) return `serial ${cert.serial} is revoked`;
  const lock = list.subjects.find((s) => s.subject === cert.subject && issuedAt(cert) < s.before);
  return lock === undefined ? null : `certificates of ${cert.subject} issued before ${new Date(lock.before * 1000).toISOString()} are revoked`;
}

/**
 * The `before` of a lock made at `timeMs`. Issue times are whole seconds (floored), so a certificate issued
 * earlier in the lock's own second carries that second: the lock rounds up to cover it. "Now" reaches to the
 * next second; a stated time rounds up only when it has a fraction.
 */
export function lockBefore(timeMs: number, stated: boolean): number {
  return stated ? Math.ceil(timeMs / 1000) : Math.floor(timeMs / 1000) + 1;
}

/**
 * The issue time (Unix seconds) of a certificate made at `clockSeconds` for a subject under `lock`: a lock made
 * this second reaches to the next one, and the new certificate is dated from there so it is not born revoked.
 * Null when the lock reaches further (a certificate issued now would be refused).
 */
export function issueTimeUnder(lock: SubjectLock | undefined, clockSeconds: number): number | null {
  if (lock === undefined || lock.before <= clockSeconds) return clockSeconds;
  return lock.before === clockSeconds + 1 ? lock.before : null;
}
