import { HerdError, isErrorCode } from '../../protocol/errors.ts';
import type { SshTarget } from '../transport/ssh.ts';

/*
 * The line the client sends to the persist daemon on a fresh unix connection, and the line it gets
 * back; after the answer the connection is the SSH channel itself, byte for byte. The daemon holds
 * the SSH connections; herd's own protocol (auth, jobs) still runs end to end with the host.
 */

/** Bumped whenever a line below changes: a daemon of another version is left alone. */
export const PERSIST_PROTOCOL = 1;

/** Longest request or answer line. */
export const MAX_PERSIST_LINE = 256 * 1024;

export interface PersistRequest {
  v: number;
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
  open: { kind: 'forward'; socketPath: string } | { kind: 'exec'; command: string };
}

export type PersistAnswer =
  | { ok: true; reused: boolean }
  /** forward refused by the host (no agent there, or forwarding not allowed): fall back to the bootstrap. */
  | { ok: false; refused: true; reused: boolean }
  | { ok: false; refused?: false; error: { code: string; message: string; hint?: string } };

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
