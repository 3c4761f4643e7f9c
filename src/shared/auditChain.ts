import { createHash } from 'node:crypto';

/**
 * The audit log's lines and their chain, shared by the host that writes them and the client
 * that verifies them. Each line is one JSON object whose `prev` is the sha256 (hex) of the
 * previous line's exact bytes (without its newline), and whose `seq` is one more than the
 * previous line's: an edited line breaks the next line's `prev`, a removed one a `seq`, two
 * swapped ones both. Rotation keeps the chain: a new file's first line carries on from the last
 * line of the one before. No I/O here.
 */

/** The `prev` of the very first line a host writes. */
export const AUDIT_GENESIS = '0'.repeat(64);

export const AUDIT_OUTCOMES = ['ok', 'refused', 'failed'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** One thing that happened on a host, as its audit line records it (before `seq` and `prev`). */
export interface AuditEntry {
  /** ISO 8601, the host's clock. */
  time: string;
  /** The host's name (its hostname) and the key id of its host key. */
  host: string;
  hostId: string;
  /** handshake, a request type (run, job-stop, network-create, trust-remove…), or a change a handshake made (trust-add, host-cert, revocations). */
  action: string;
  outcome: AuditOutcome;
  /** The error code of a refused or failed action. */
  code?: string;
  message?: string;
  /** The caller's certificate, as far as it is known (a refused handshake may have none). */
  subject: string | null;
  serial: string | null;
  role: string | null;
  ca: string | null;
  /** The SSH login and the client's address, where the connection came through herd's relay. */
  login: string | null;
  from: string | null;
  /** What the action was about: a job id, a network's name, a CA key id. */
  target?: string;
  /** More of the request: a run's argv, limits and network. */
  detail?: Record<string, unknown>;
}

/** A line as stored: the entry with its place in the chain. */
export interface AuditLine extends AuditEntry {
  seq: number;
  prev: string;
}

/** Where the chain ends: the last line's number and hash. */
export interface AuditHead {
  seq: number;
  hash: string;
}

export function lineHash(line: string): string {
  return createHash('sha256').update(line, 'utf8').digest('hex');
}

/** The line that follows `head` (null: the first line of all). */
export function chainLine(entry: AuditEntry, head: AuditHead | null): { line: string; head: AuditHead } {
  const seq = head === null ? 1 : head.seq + 1;
  const line = JSON.stringify({ seq, prev: head === null ? AUDIT_GENESIS : head.hash, ...entry });
  return { line, head: { seq, hash: lineHash(line) } };
}

/** A stored line, or null when it is not one (torn, edited into nonsense). */
export function parseAuditLine(line: string): AuditLine | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const o = value as Record<string, unknown>;
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 1) return null;
  if (typeof o.prev !== 'string' || !/^[0-9a-f]{64}$/.test(o.prev)) return null;
  if (typeof o.time !== 'string' || typeof o.action !== 'string' || typeof o.host !== 'string') return null;
  if (!(AUDIT_OUTCOMES as readonly string[]).includes(o.outcome as string)) return null;
  return o as unknown as AuditLine;
}

/** One file of a host's log, oldest first: its name says the seq of its first line. */
export interface AuditFile {
  name: string;
  text: string;
}

export interface AuditProblem {
  file: string;
  /** Line number in the file, from 1. */
  line: number;
  what: string;
}

export interface AuditVerdict {
  ok: boolean;
  lines: number;
  /** The seq of the first line kept (older files were rotated away) and of the last; null when empty. */
  firstSeq: number | null;
  head: AuditHead | null;
  problems: AuditProblem[];
}

/** Checks to stop at: past this many, the rest of a damaged log says nothing new. */
const MAX_PROBLEMS = 20;

/** The seq a file's name says it starts at (rotated files: <seq>.jsonl), or null for the current file. */
export function fileFirstSeq(name: string): number | null {
  const match = /^(\d{1,16})\.jsonl$/.exec(name);
  return match === null ? null : Number(match[1]);
}

interface Known {
  at: AuditHead;
  who: string;
}

/**
 * Checks a host's lines as they arrive, file by file, oldest first, holding only the last line's
 * head. Lines known from elsewhere must still be there, as they were: `head`, the last line the
 * host's agent remembers writing (a line cut off the end leaves no gap to see), and `anchor`, the
 * last line this client saw in an earlier verify. Either may be older than the first line kept,
 * when rotation dropped it. The log must begin at line 1 or where the host's last rotation said it
 * now begins: lines cut off its front, rotation lines and all, are a problem too.
 */
export class ChainVerifier {
  private readonly problems: AuditProblem[] = [];
  private readonly known: Known[];
  private readonly seen = new Set<number>();
  private last: AuditHead | null = null;
  private firstSeq: number | null = null;
  private firstFile = '-';
  /** Where the host's last rotation said the log begins now. */
  private keptFrom: number | null = null;
  private lines = 0;
  private file = '-';
  private named: number | null = null;
  private inFile = 0;

  constructor(options: { head?: AuditHead | null; anchor?: AuditHead | null } = {}) {
    this.known = [
      { at: options.head ?? null, who: "the host's agent wrote" },
      { at: options.anchor ?? null, who: 'an earlier verify saw' },
    ].filter((k): k is Known => k.at !== null);
  }

  /** Past MAX_PROBLEMS the rest of a damaged log says nothing new: a reader may stop. */
  get full(): boolean {
    return this.problems.length >= MAX_PROBLEMS;
  }

  private problem(file: string, line: number, what: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push({ file, line, what });
  }

  beginFile(name: string): void {
    this.file = name;
    this.named = fileFirstSeq(name);
    this.inFile = 0;
  }

  /** A piece too long to be a line the host wrote, or not one at all. */
  junk(): void {
    this.inFile++;
    this.lines++;
    this.problem(this.file, this.inFile, 'not an audit line (edited or damaged)');
    this.last = null;
  }

  /** One whole line of the current file, without its newline. */
  line(text: string): void {
    const line = text === '' ? null : parseAuditLine(text);
    if (line === null) return this.junk();
    this.inFile++;
    this.lines++;
    const at = this.inFile;
    const { file, last } = this;
    if (at === 1 && this.named !== null && line.seq !== this.named) this.problem(file, at, `the file starts at line ${this.named} but holds line ${line.seq} first (lines removed)`);
    if (last === null) {
      if (this.firstSeq === null) {
        this.firstSeq = line.seq;
        this.firstFile = file;
        if (line.seq === 1 && line.prev !== AUDIT_GENESIS) this.problem(file, at, 'the first line does not start the chain (edited)');
      }
    } else if (line.seq !== last.seq + 1) {
      this.problem(file, at, line.seq <= last.seq ? `line ${line.seq} comes after line ${last.seq} (reordered or repeated)` : line.seq === last.seq + 2 ? `line ${last.seq + 1} is missing (removed)` : `lines ${last.seq + 1}–${line.seq - 1} are missing (removed)`);
    } else if (line.prev !== last.hash) {
      this.problem(file, at, `line ${line.seq} does not follow from line ${last.seq} (one of them was edited, or lines were swapped)`);
    }
    if (line.action === 'audit-rotate' && typeof line.detail?.keptFrom === 'number') this.keptFrom = line.detail.keptFrom;
    if (line.action === 'audit-gap') this.problem(file, at, `the host's agent found the log cut short or replaced before line ${line.seq}`);
    const hash = lineHash(text);
    for (const k of this.known) {
      if (k.at.seq !== line.seq) continue;
      this.seen.add(k.at.seq);
      if (hash !== k.at.hash) this.problem(file, at, `line ${line.seq} is not the one ${k.who} (edited)`);
    }
    this.last = { seq: line.seq, hash };
  }

  /** The current file is over; `torn` is what followed its last newline, if anything. */
  endFile(torn: boolean): void {
    if (torn) this.problem(this.file, this.inFile + 1, 'the last line is cut short');
  }

  finish(): AuditVerdict {
    const head = this.last;
    const { firstSeq, keptFrom } = this;
    if (firstSeq !== null && firstSeq !== 1 && keptFrom !== firstSeq) {
      this.problem(
        this.firstFile,
        1,
        keptFrom === null
          ? `the log begins at line ${firstSeq} and no rotation says why (lines 1–${firstSeq - 1} removed)`
          : keptFrom < firstSeq
            ? `lines ${keptFrom}–${firstSeq - 1} are missing: the host's last rotation kept the log from line ${keptFrom} (oldest files removed)`
            : `the log begins at line ${firstSeq}, but the host's last rotation kept it from line ${keptFrom} (lines put back or rotation lines edited)`,
      );
    }
    for (const k of this.known) {
      if (this.seen.has(k.at.seq)) continue;
      if (head === null || k.at.seq > head.seq) this.problem('-', 0, `${k.who} line ${k.at.seq}; the log ends at line ${head?.seq ?? 0} (lines removed from the end)`);
      else if (firstSeq !== null && k.at.seq >= firstSeq) this.problem('-', 0, `line ${k.at.seq}, which ${k.who}, is gone`);
    }
    return { ok: this.problems.length === 0, lines: this.lines, firstSeq, head, problems: [...this.problems] };
  }
}

/** Verifies whole files at once (ChainVerifier has the rules). */
export function verifyChain(files: readonly AuditFile[], options: { head?: AuditHead | null; anchor?: AuditHead | null } = {}): AuditVerdict {
  const verifier = new ChainVerifier(options);
  for (const file of files) {
    verifier.beginFile(file.name);
    if (file.text === '') continue;
    const texts = file.text.split('\n');
    const torn = texts.pop() !== '';
    for (const text of texts) verifier.line(text);
    verifier.endFile(torn);
  }
  return verifier.finish();
}
