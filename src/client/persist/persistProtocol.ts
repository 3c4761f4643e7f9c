import { createHmac, timingSafeEqual } from 'node:crypto';
import { HerdError, isErrorCode } from '../../protocol/errors.ts';
import type { SshTarget } from '../transport/sshConnection.ts';

/*
 * The lines a client and the persist daemon exchange on a fresh unix connection; after the answer
 * the connection is the SSH channel itself, byte for byte. The daemon holds the SSH connections;
 * herd's own protocol (auth, jobs) still runs end to end with the host.
 *
 *   client → daemon  {"v":2,"nonce":nC}
 *   daemon → client  {"nonce":nD,"proof":HMAC(key, "herd-persist-daemon" ‖ nC ‖ nD)}
 *   client → daemon  the request, with "auth": HMAC(key, "herd-persist-client" ‖ nD ‖ nC)
 *   daemon → client  the answer
 *
 * `key` is 32 random bytes the daemon writes at start in the private runtime directory (0600):
 * each side proves it can read it before the other says anything that matters, so a client never
 * hands its request (or the SSH channel that follows) to a daemon that is not its own user's,
 * and the daemon serves no one else.
 */

/** Bumped whenever a line below changes: a daemon of another version is left alone. */
export const PERSIST_PROTOCOL = 2;

/** Longest a client may ask connections to be kept, and the shortest. */
export const MAX_PERSIST_MS = 7 * 24 * 3600 * 1000;
export const MIN_PERSIST_MS = 1000;
/** The daemon's key file: this many random bytes. */
export const PERSIST_KEY_BYTES = 32;

export interface PersistHello {
  v: number;
  nonce: string;
}

export interface PersistChallenge {
  nonce: string;
  proof: string;
}

function mac(key: Uint8Array, label: string, first: string, second: string): string {
  return createHmac('sha256', key).update(`${label}\n${first}\n${second}`).digest('base64url');
}

export function daemonProof(key: Uint8Array, clientNonce: string, daemonNonce: string): string {
  return mac(key, 'herd-persist-daemon', clientNonce, daemonNonce);
}

export function clientProof(key: Uint8Array, daemonNonce: string, clientNonce: string): string {
  return mac(key, 'herd-persist-client', daemonNonce, clientNonce);
}

/** Compares a proof in constant time. */
export function proofMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Longest request or answer line. */
export const MAX_PERSIST_LINE = 256 * 1024;

export interface PersistRequest {
  v: number;
  /** clientProof() for this connection's nonces. */
  auth: string;
  target: SshTarget;
  /** ProxyJump hops, resolved by the client (the daemon has no config of its own). */
  jumps: Record<string, SshTarget>;
  acceptNew: boolean;
  connectTimeoutMs: number;
  knownHostsFile?: string;
  /** The ssh-agent the client sees; used when the daemon first connects this host. */
  authSock?: string;
  /** How long an unused connection (and the daemon, with none left) stays. */
  persistMs: number;
  /** nodelay: bulk output flows over this connection, see transport/nodelay.ts (answered, then closed). */
  open: { kind: 'forward'; socketPath: string } | { kind: 'exec'; command: string } | { kind: 'nodelay' };
}

export type PersistAnswer =
  | { ok: true; reused: boolean }
  /** forward refused by the host (no agent there, or forwarding not allowed): fall back to the bootstrap. */
  | { ok: false; refused: true; reused: boolean }
  | { ok: false; refused?: false; error: { code: string; message: string; hint?: string } };

/** A request line as the daemon takes it: anything malformed is a PROTOCOL error, never a crash. */
export function parseRequest(line: string): PersistRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new HerdError('PROTOCOL', 'persist daemon: the request is not JSON');
  }
  const r = value as Partial<PersistRequest> | null;
  if (typeof r !== 'object' || r === null) throw new HerdError('PROTOCOL', 'persist daemon: the request is not an object');
  if (r.v !== PERSIST_PROTOCOL) throw new HerdError('VERSION_MISMATCH', `persist daemon speaks version ${PERSIST_PROTOCOL}, not ${String(r.v)}`);
  const t = r.target;
  const targetOk = typeof t === 'object' && t !== null && t.kind === 'ssh' && typeof t.name === 'string' && typeof t.address === 'string' && typeof t.user === 'string' && Number.isInteger(t.port);
  const o = r.open;
  const openOk = typeof o === 'object' && o !== null && ((o.kind === 'forward' && typeof o.socketPath === 'string') || (o.kind === 'exec' && typeof o.command === 'string') || o.kind === 'nodelay');
  const numbersOk =
    typeof r.persistMs === 'number' && r.persistMs >= MIN_PERSIST_MS && r.persistMs <= MAX_PERSIST_MS && typeof r.connectTimeoutMs === 'number' && r.connectTimeoutMs > 0;
  if (!targetOk || !openOk || !numbersOk || typeof r.auth !== 'string' || typeof r.acceptNew !== 'boolean' || typeof r.jumps !== 'object' || r.jumps === null) {
    throw new HerdError('PROTOCOL', 'persist daemon: malformed request');
  }
  return r as PersistRequest;
}

/** The daemon's answer line as the client takes it. */
export function parseAnswer(line: string): PersistAnswer {
  try {
    const value = JSON.parse(line) as PersistAnswer;
    if (typeof value === 'object' && value !== null && typeof value.ok === 'boolean') return value;
  } catch {
    // below
  }
  throw new HerdError('PROTOCOL', 'the --persist daemon answered something that is not an answer');
}

/** The connection pool's key: everything that makes two requests' SSH connections interchangeable. */
export function connectionKey(request: PersistRequest): string {
  const { target, jumps, acceptNew, knownHostsFile, authSock } = request;
  return JSON.stringify([target.user, target.address, target.port, target.ssh ?? null, jumps, acceptNew, knownHostsFile ?? null, authSock ?? null]);
}

export function answerError(answer: Extract<PersistAnswer, { error: unknown }>, host: string): HerdError {
  const { code, message, hint } = answer.error;
  return new HerdError(isErrorCode(code) ? code : 'HOST_UNREACHABLE', message, { host, ...(hint === undefined ? {} : { hint }) });
}

/**
 * Splits the first line off a connection's bytes. Returns the line and the bytes after it, or
 * null while no newline has arrived.
 */
export function takeLine(buffered: Buffer): { line: string; rest: Buffer } | null {
  const newline = buffered.indexOf(10);
  if (newline < 0) {
    if (buffered.length > MAX_PERSIST_LINE) throw new HerdError('PROTOCOL', 'persist daemon: line too long');
    return null;
  }
  return { line: buffered.subarray(0, newline).toString('utf8'), rest: buffered.subarray(newline + 1) };
}

/** A hello or challenge line: an object with a string nonce (and proof), else PROTOCOL. */
export function parseLine<T extends PersistHello | PersistChallenge>(line: string, fields: ReadonlyArray<keyof T>, what: string): T {
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    if (typeof value === 'object' && value !== null && fields.every((f) => typeof value[f as string] === 'string' || (f === 'v' && typeof value.v === 'number'))) return value as unknown as T;
  } catch {
    // below
  }
  throw new HerdError('PROTOCOL', `persist: a malformed ${what}`);
}
