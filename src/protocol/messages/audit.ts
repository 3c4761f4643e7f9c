import { MAX_AUDIT_FILES } from '../limits.ts';
import { bool, count, fail, isObject, nullableStr, str, type Validators } from './check.ts';

/**
 * A host's audit log (src/shared/auditChain.ts has its lines). `all`: every line of every file
 * kept, for `herd audit verify`; otherwise only the lines since `sinceMs` (the host's clock) of
 * `subject`. The lines come as stdout data, then one `audit-end`.
 */
export interface AuditRead {
  t: 'audit-read';
  all?: boolean;
  sinceMs?: number;
  subject?: string;
}
/** The files the data came from, in order, with their sizes: where one ends and the next begins. */
export interface AuditFileInfo {
  name: string;
  bytes: number;
}
export interface AuditEnd {
  t: 'audit-end';
  host: string;
  hostId: string;
  /** With `all` only. */
  files: AuditFileInfo[];
  /** The last line the agent wrote or found at the end of its log, or null before the first. */
  head: { seq: number; hash: string } | null;
}

/** With `all`, before the data: the files it comes from, in order, and their sizes. */
export interface AuditFiles {
  t: 'audit-files';
  files: AuditFileInfo[];
  /** As in audit-end: known first, so that the client checks each line as it comes. */
  head: { seq: number; hash: string } | null;
}

export type AuditMessage = AuditRead | AuditFiles | AuditEnd;

function checkFiles(o: Record<string, unknown>, what: string): void {
  if (!Array.isArray(o.files) || o.files.length > MAX_AUDIT_FILES) fail(`${what}.files`);
  for (const file of o.files as unknown[]) {
    if (!isObject(file)) fail(`${what}.files[]`);
    str(file, 'name');
    count(file, 'bytes');
  }
}

function checkHead(o: Record<string, unknown>, what: string): void {
  if (o.head === null) return;
  if (!isObject(o.head)) fail(`${what}.head`);
  count(o.head, 'seq');
  str(o.head, 'hash');
}

export const AUDIT_VALIDATORS: Validators<AuditMessage> = {
  'audit-read'(o) {
    bool(o, 'all', true);
    count(o, 'sinceMs', true);
    str(o, 'subject', true);
  },
  'audit-files'(o) {
    checkFiles(o, 'audit-files');
    checkHead(o, 'audit-files');
  },
  'audit-end'(o) {
    str(o, 'host');
    str(o, 'hostId');
    checkFiles(o, 'audit-end');
    checkHead(o, 'audit-end');
  },
};

/** Sent by herd's relay to the agent before the client's first byte: who logged in over SSH, from where. */
export interface RelayFacts {
  t: 'relay';
  login: string | null;
  from: string | null;
}

export const RELAY_VALIDATORS: Validators<RelayFacts> = {
  relay(o) {
    nullableStr(o, 'login');
    nullableStr(o, 'from');
  },
};
