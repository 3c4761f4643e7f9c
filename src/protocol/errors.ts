/** Stable error codes: tests and scripts match these, never the wording. */
export const ERROR_CODES = [
  'INVALID_SPEC', // a flag, argument or config value is malformed
  'CONFIG', // the config file cannot be read or parsed
  'HOST_UNREACHABLE',
  'HOST_UNRESPONSIVE', // connected, but the host did not finish herd's handshake in time, or stopped answering
  'SSH_AUTH',
  'BECOME_FAILED', // --become: sudo on the host would not run herd's helper (password, sudoers, no sudo)
  'HOST_KEY_UNKNOWN',
  'HOST_KEY_MISMATCH',
  'HOST_KEY_REVOKED', // the host's key is @revoked in known_hosts: never accepted
  'HELPER_START', // bootstrap or helper could not start on the host
  'PROTOCOL', // a peer broke the framing or message rules
  'VERSION_MISMATCH',
  'FLOW_CONTROL',
  'LIMIT', // a named limit was exceeded
  'CERT_INVALID',
  'CERT_UNTRUSTED',
  'CERT_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED', // the certificate is on its CA's revocation list (by serial, or its subject's issued-before lock)
  'PERMISSION_DENIED',
  'NETWORK', // a job network could not be set up, or a network request was refused
  'LIMIT_UNSUPPORTED', // the host cannot enforce a requested limit (no controller, no block device)
  'ISOLATION_UNSUPPORTED', // the host cannot give a job the sandbox herd promises (user namespace, id range)
  'COMMAND_NOT_FOUND',
  'JOB_FAILED', // the job could not be started on the host
  'JOB_NOT_FOUND', // no job on the host has that id (or id prefix)
  'JOB_RUNNING', // the job must have ended first (delete)
  'STAGE_NOT_FOUND', // a run named an upload this host does not hold staged for the caller
  'STATE_UNSAFE', // herd's state directory on the host is not private (owner, mode, symlink)
  'NO_SPACE', // the host's disk (where herd keeps its state and job logs) is full
  'CONNECTION_LOST',
  'INTERRUPTED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** The one error type: a stable code, a line a user can act on, the host it concerns, and a cause. */
export class HerdError extends Error {
  readonly code: ErrorCode;
  readonly host: string | undefined;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { host?: string; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HerdError';
    this.code = code;
    this.host = options.host;
    this.hint = options.hint;
  }

  withHost(host: string): HerdError {
    if (this.host !== undefined) return this;
    return new HerdError(this.code, this.message, { host, hint: this.hint, cause: this.cause });
  }

  toJSON(): { code: ErrorCode; message: string; host?: string; hint?: string } {
    return {
      code: this.code,
      message: this.message,
      ...(this.host === undefined ? {} : { host: this.host }),
      ...(this.hint === undefined ? {} : { hint: this.hint }),
    };
  }
}

/**
 * Codes only this side of a connection can know (how the connection itself went): a peer that
 * sends one is claiming something it cannot know, so it is not taken as said.
 */
const LOCAL_ONLY_CODES: readonly ErrorCode[] = ['CONFIG', 'HOST_UNREACHABLE', 'HOST_UNRESPONSIVE', 'SSH_AUTH', 'BECOME_FAILED', 'HOST_KEY_UNKNOWN', 'HOST_KEY_MISMATCH', 'HOST_KEY_REVOKED', 'CONNECTION_LOST', 'INTERRUPTED'];

/** Longest code from a peer that is quoted back (a code is an identifier, not a message). */
const MAX_PEER_CODE = 40;

/**
 * An error a peer reported, as ours: its code when it is one a peer may send, else `fallback`
 * with the peer's code quoted in the message as the peer's ("the host reported X"), so a peer
 * cannot make its words look like herd's own verdict.
 */
export function peerError(code: unknown, message: string, fallback: ErrorCode, options: { host?: string; hint?: string } = {}): HerdError {
  if (isErrorCode(code) && !LOCAL_ONLY_CODES.includes(code)) return new HerdError(code, message, options);
  const quoted = typeof code === 'string' ? code.slice(0, MAX_PEER_CODE) : JSON.stringify(code ?? null).slice(0, MAX_PEER_CODE);
  return new HerdError(fallback, `the peer reported ${JSON.stringify(quoted)}: ${message}`, options);
}

/** A stream's error message (messages.ts StreamError, spelled out here: messages.ts imports this file). */
interface StreamError {
  t: 'error';
  code: string;
  message: string;
  hint?: string;
}

/** A HerdError as the message that reports it on a stream. */
export function toStreamError(error: HerdError): StreamError {
  return { t: 'error', code: error.code, message: error.message, ...(error.hint === undefined ? {} : { hint: error.hint }) };
}

/** A stream's error message as ours, the code judged as a peer's (see peerError). */
export function fromStreamError(message: StreamError, fallback: ErrorCode, host?: string): HerdError {
  return peerError(message.code, message.message, fallback, { ...(host === undefined ? {} : { host }), ...(message.hint === undefined ? {} : { hint: message.hint }) });
}

export function asHerdError(err: unknown, fallback: ErrorCode = 'INTERNAL'): HerdError {
  if (err instanceof HerdError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const errno = err as { code?: unknown; path?: unknown };
  if (errno.code === 'ENOSPC' || errno.code === 'EDQUOT') {
    const where = typeof errno.path === 'string' ? ` (${errno.path})` : '';
    return new HerdError('NO_SPACE', `no space left on the disk herd writes to${where}: ${message}`, {
      cause: err,
      hint: 'free space there; finished jobs\' output logs go with: herd job prune -H HOST --older-than 1d',
    });
  }
  return new HerdError(fallback, message, { cause: err });
}
