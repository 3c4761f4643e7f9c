import type { Request } from '../../protocol/messages.ts';
import type { AuditEntry, AuditOutcome } from '../../shared/auditChain.ts';
import { AuditBudget } from './auditBudget.ts';
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

/** A run's fields kept in its line: what the validators check, by name, so that padding a request with others keeps nothing. */
const RUN_FIELDS = ['workdir', 'network', 'name', 'ip', 'maxBandwidthBps', 'detach', 'timeoutMs', 'graceMs', 'maxLogBytes', 'schedule', 'requireSeccomp', 'isolation', 'pid'] as const;
const LIMIT_FIELDS = ['cpuPercent', 'cpuCores', 'memoryBytes', 'pids', 'readBps', 'writeBps'] as const;

function picked<K extends string>(from: Partial<Record<K, unknown>>, keys: readonly K[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const value = from[key];
    if (value !== undefined) out[key] = typeof value === 'string' ? cut(value) : value;
  }
  return out;
}

/** The parts of a request worth keeping; environment values are left out (they carry secrets), their names kept. */
export function detailOf(request: Request): Record<string, unknown> | undefined {
  if (request.t === 'run') {
    const detail: Record<string, unknown> = { argv: cutList(request.argv), ...picked(request, RUN_FIELDS) };
    if (request.user !== undefined) detail.user = { uid: request.user.uid, gid: request.user.gid };
    if (request.limits !== undefined) detail.limits = picked(request.limits, LIMIT_FIELDS);
    if (request.binds !== undefined) detail.binds = request.binds.slice(0, MAX_ITEMS).map((b) => `${cut(b.host)}:${cut(b.job)}${b.readOnly ? ':ro' : ''}`);
    const names = Object.keys(request.env);
    if (names.length > 0) detail.envNames = cutList(names);
    return detail;
  }
  if (request.t === 'signal') return { signal: request.signal };
  if (request.t === 'network-create') return { cidr: cut(request.network.cidr) };
  if (request.t === 'job-prune' && request.olderThanMs !== undefined) return { olderThanMs: request.olderThanMs };
  if (request.t === 'job-stop') return { graceMs: request.graceMs };
  return undefined;
}

/**
 * The longest line written. A request's strings are cut to MAX_STRING and its lists to MAX_ITEMS,
 * which still leaves a run of 64 long arguments far over it: such a line keeps the start of its
 * detail as text. Readers look back further than this for a file's last line (auditLog.ts).
 */
export const MAX_AUDIT_LINE_BYTES = 8 * 1024;
const KEPT_DETAIL_CHARS = 4 * 1024;

/** The entry as written: within MAX_AUDIT_LINE_BYTES once chained (seq and prev add under 100 bytes). */
export function withinLineLimit(entry: AuditEntry): AuditEntry {
  const bytes = Buffer.byteLength(JSON.stringify(entry));
  if (bytes <= MAX_AUDIT_LINE_BYTES - 128 || entry.detail === undefined) return entry;
  const text = JSON.stringify(entry.detail);
  return { ...entry, detail: { cut: `${text.length - KEPT_DETAIL_CHARS} characters of the detail left out`, start: text.slice(0, KEPT_DETAIL_CHARS) } };
}

/**
 * Writes the host's audit lines. A line that cannot be written (a full disk) does not stop the
 * action: the failure goes to the agent's log, and `herd audit verify` shows no gap for it, only
 * the missing event (documented in docs/identity.md).
 */
export class Auditor {
  /** Audit reads being served (auditRequests.ts limits them). */
  readers = 0;

  constructor(
    private readonly log: AuditLog,
    readonly host: string,
    readonly hostId: string,
    private readonly budget: AuditBudget = new AuditBudget(),
  ) {}

  /**
   * Whether `who` may have a line written now (AuditBudget, keyed by `caller`); the first line let
   * through after some were refused is preceded by one that counts them.
   */
  admit(caller: string, who: AuditWho, origin: ConnectionOrigin): boolean {
    const answer = this.budget.take(caller);
    if (!answer.allowed) return false;
    if (answer.refusedBefore > 0) {
      const n = answer.refusedBefore;
      this.record({ action: 'audit-throttled', outcome: 'refused', code: 'LIMIT', message: `${n} request${n === 1 ? '' : 's'} refused without a line each: over the audit budget`, detail: { refused: n } }, who, origin);
    }
    return true;
  }

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
      // herd's relay says these; any process of the state's owner could connect and say otherwise.
      login: origin.login === null ? null : cut(origin.login),
      from: origin.from === null ? null : cut(origin.from),
      ...(event.target === undefined ? {} : { target: event.target }),
      ...(event.detail === undefined ? {} : { detail: event.detail }),
    };
    try {
      this.log.append(withinLineLimit(entry));
    } catch (err) {
      process.stderr.write(`${entry.time} herd agent: cannot write the audit log in ${this.log.dir}: ${(err as Error).message}\n`);
    }
  }

  get file(): AuditLog {
    return this.log;
  }
}
