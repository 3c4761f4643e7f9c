import type { Request } from '../../protocol/messages.ts';
import type { AuditEntry, AuditOutcome } from '../../shared/auditChain.ts';
import type { AuditLog } from './auditLog.ts';

/** The certificate behind an action, as far as it is known. */
export interface AuditWho {
  subject: string | null;
  serial: string | null;
  role: string | null;
  ca: string | null;
}

/** Where a connection came from: herd's relay tells the SSH login and the client's address. */
export interface ConnectionOrigin {
  login: string | null;
  from: string | null;
}

export const NOBODY: AuditWho = { subject: null, serial: null, role: null, ca: null };
export const UNKNOWN_ORIGIN: ConnectionOrigin = { login: null, from: null };

/** What an action was and how it ended, before time, host and chain are added. */
export interface AuditEvent {
  action: string;
  outcome: AuditOutcome;
  code?: string;
  message?: string;
  target?: string;
  detail?: Record<string, unknown>;
}

/** Codes that mean "you may not", as against "it did not work". */
const REFUSALS = new Set(['PERMISSION_DENIED', 'CERT_INVALID', 'CERT_UNTRUSTED', 'CERT_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'LIMIT', 'VERSION_MISMATCH']);

export function outcomeOf(error: { code: string }): AuditOutcome {
  return REFUSALS.has(error.code) ? 'refused' : 'failed';
}

/** A line stays well under what the log's reader looks back for; a request's strings are cut to fit. */
const MAX_STRING = 512;
const MAX_ITEMS = 64;

function cut(text: string): string {
  return text.length <= MAX_STRING ? text : `${text.slice(0, MAX_STRING)}…(${text.length - MAX_STRING} more characters)`;
}

function cutList(items: readonly string[]): string[] {
  const kept = items.slice(0, MAX_ITEMS).map(cut);
  return items.length > MAX_ITEMS ? [...kept, `…(${items.length - MAX_ITEMS} more)`] : kept;
}

/** What the request was about, from the request alone (a run's job id comes when it starts). */
export function targetOf(request: Request): string | undefined {
  switch (request.t) {
    case 'job-status':
    case 'job-wait':
    case 'job-logs':
    case 'job-stop':
    case 'job-delete':
      return cut(request.id);
    case 'network-create':
      return cut(request.network.name);
    case 'network-remove':
      return cut(request.name);
    case 'trust-remove':
      return cut(request.ca);
    default:
      return undefined;
  }
}

/** The parts of a request worth keeping; environment values are left out (they carry secrets), their names kept. */
export function detailOf(request: Request): Record<string, unknown> | undefined {
  if (request.t === 'run') {
    const { argv, env, t: _t, ...rest } = request;
    const detail: Record<string, unknown> = { argv: cutList(argv), ...rest };
    const names = Object.keys(env);
    if (names.length > 0) detail.envNames = cutList(names);
    for (const [key, value] of Object.entries(detail)) if (typeof value === 'string') detail[key] = cut(value);
    return detail;
  }
  if (request.t === 'signal') return { signal: request.signal };
  if (request.t === 'network-create') return { cidr: cut(request.network.cidr) };
  if (request.t === 'job-prune' && request.olderThanMs !== undefined) return { olderThanMs: request.olderThanMs };
  if (request.t === 'job-stop') return { graceMs: request.graceMs };
  return undefined;
}

/**
 * Writes the host's audit lines. A line that cannot be written (a full disk) does not stop the
 * action: the failure goes to the agent's log, and `herd audit verify` shows no gap for it, only
 * the missing event (documented in docs/identity.md).
 */
export class Auditor {
  constructor(
    private readonly log: AuditLog,
    readonly host: string,
    readonly hostId: string,
  ) {}

  record(event: AuditEvent, who: AuditWho, origin: ConnectionOrigin): void {
    const entry: AuditEntry = {
      time: new Date().toISOString(),
      host: this.host,
      hostId: this.hostId,
      action: event.action,
      outcome: event.outcome,
      ...(event.code === undefined ? {} : { code: event.code }),
      ...(event.message === undefined ? {} : { message: cut(event.message) }),
      subject: who.subject === null ? null : cut(who.subject),
      serial: who.serial,
      role: who.role,
      ca: who.ca,
      login: origin.login,
      from: origin.from,
      ...(event.target === undefined ? {} : { target: event.target }),
      ...(event.detail === undefined ? {} : { detail: event.detail }),
    };
    try {
      this.log.append(entry);
    } catch (err) {
      process.stderr.write(`${entry.time} herd agent: cannot write the audit log in ${this.log.dir}: ${(err as Error).message}\n`);
    }
  }

  get file(): AuditLog {
    return this.log;
  }
}
