import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { chainLine, fileFirstSeq, lineHash, parseAuditLine, type AuditEntry, type AuditHead } from '../../shared/auditChain.ts';
import { processStart } from '../system/processes.ts';

/** Rotate the current file once it would pass this size; keep this many rotated files. */
export const AUDIT_ROTATE_BYTES = 16 * 1024 * 1024;
export const AUDIT_KEEP_FILES = 8;
/** How far from the end of a file its last line is looked for: lines are capped far below it (auditEntry.ts). */
const TAIL_BYTES = 256 * 1024;
/** How long an append waits for another agent's (a newer version's, beside this one) to finish. */
const LOCK_WAIT_MS = 2000;

const CURRENT = 'current.jsonl';

export interface AuditLogOptions {
  rotateBytes?: number;
  keepFiles?: number;
}

/** A file of the log, oldest first. */
export interface AuditFileRef {
  name: string;
  path: string;
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Up to `length` bytes of a file from `position` (fewer at its end). */
export function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buffer, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buffer.subarray(0, got);
}

/** The last whole line of a file that is an audit line, as a chain head; `torn` when the file does not end in a newline. */
function tailOf(fd: number, size: number): { head: AuditHead | null; torn: boolean } {
  if (size === 0) return { head: null, torn: false };
  const start = Math.max(0, size - TAIL_BYTES);
  const text = readAt(fd, start, size - start).toString('utf8');
  const torn = !text.endsWith('\n');
  const lines = text.split('\n');
  // Past the last newline is a torn write; the first piece may be the end of a longer line.
  lines.pop();
  if (start > 0) lines.shift();
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = parseAuditLine(lines[i]!);
    if (line !== null) return { head: { seq: line.seq, hash: lineHash(lines[i]!) }, torn };
  }
  return { head: null, torn };
}

/** Lines already chained, then entries chained on from `head`: the text to append and the new head. */
function chained(done: readonly string[], entries: readonly [AuditEntry, ...AuditEntry[]], head: AuditHead | null): { text: string; head: AuditHead } {
  const lines = [...done];
  let at = head;
  for (const entry of entries) {
    const next = chainLine(entry, at);
    lines.push(next.line);
    at = next.head;
  }
  return { text: `${lines.join('\n')}\n`, head: at! };
}

/** What a rotation kept: the log now begins at `keptFrom`; `removed` are the files it deleted. */
export interface AuditRotation {
  keptFrom: number;
  removed: string[];
}

/** A line the log writes about itself (no caller behind it), at the time and host of `like`. */
function logEntry(like: AuditEntry, fields: Pick<AuditEntry, 'action' | 'outcome' | 'detail'> & Partial<Pick<AuditEntry, 'code' | 'message'>>): AuditEntry {
  const { action, outcome, code, message, detail } = fields;
  // The key order of every other line: what happened, then who (nobody), then the detail.
  return {
    time: like.time,
    host: like.host,
    hostId: like.hostId,
    action,
    outcome,
    ...(code === undefined ? {} : { code }),
    ...(message === undefined ? {} : { message }),
    subject: null,
    serial: null,
    role: null,
    ca: null,
    login: null,
    from: null,
    ...(detail === undefined ? {} : { detail }),
  };
}

function rotationEntry(like: AuditEntry, kept: AuditRotation): AuditEntry {
  return logEntry(like, { action: 'audit-rotate', outcome: 'ok', detail: { keptFrom: kept.keptFrom, removed: kept.removed } });
}

/**
 * A host's audit log (src/shared/auditChain.ts has the line format): `current.jsonl`, and rotated
 * files named after the seq of their first line. The agent only ever appends (O_APPEND) and renames
 * whole files when rotating; no request writes to it. Agents of two versions may run beside each
 * other after an upgrade: each append holds a lock file and chains on from the file's real end
 * when another agent wrote since.
 */
export class AuditLog {
  private head: AuditHead | null = null;
  /** The current file as this agent last left it: another writer changed it when it differs. */
  private known: { ino: number; size: number } | null = null;
  private readonly rotateBytes: number;
  private readonly keepFiles: number;

  constructor(
    readonly dir: string,
    options: AuditLogOptions = {},
  ) {
    this.rotateBytes = options.rotateBytes ?? AUDIT_ROTATE_BYTES;
    this.keepFiles = options.keepFiles ?? AUDIT_KEEP_FILES;
  }

  /** The last line this agent wrote or found at the end, for a reader to check the file against. */
  lastWritten(): AuditHead | null {
    return this.head;
  }

  /** The files, oldest first (rotated ones by their first seq, then the current one). */
  files(): AuditFileRef[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const rotated = names.filter((n) => fileFirstSeq(n) !== null).sort((a, b) => fileFirstSeq(a)! - fileFirstSeq(b)!);
    const all = names.includes(CURRENT) ? [...rotated, CURRENT] : rotated;
    return all.map((name) => ({ name, path: join(this.dir, name) }));
  }

  append(entry: AuditEntry): AuditHead {
    this.ensureDir();
    const unlock = this.lock();
    try {
      const path = join(this.dir, CURRENT);
      let fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
      try {
        let stat = fstatSync(fd);
        let prefix = '';
        const lines: string[] = [];
        if (this.known === null || this.known.ino !== stat.ino || this.known.size !== stat.size) {
          const lastWritten = this.head;
          const read = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
          try {
            const tail = tailOf(read, stat.size);
            this.head = tail.head ?? this.rotatedHead();
            // A torn last line (a crash mid-write) stays as evidence; ours starts on a line of its own.
            if (tail.torn) prefix = '\n';
          } finally {
            closeSync(read);
          }
          // Cut short or replaced since our last line, and not by a rotation: the chain alone would
          // carry on from the new end as if nothing happened, so say so in it.
          if (this.known !== null && !this.explained(this.known, stat)) {
            const gap = logEntry(entry, {
              action: 'audit-gap',
              outcome: 'failed',
              code: 'INTERNAL',
              message: 'the audit log was cut short or replaced since this agent last wrote to it',
              detail: { lastWritten },
            });
            const written = chainLine(gap, this.head);
            lines.push(written.line);
            this.head = written.head;
          }
        }
        let { text, head } = chained(lines, [entry], this.head);
        if (stat.size > 0 && stat.size + Buffer.byteLength(prefix + text) > this.rotateBytes) {
          closeSync(fd);
          fd = -1;
          const kept = this.rotate(path);
          fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
          stat = fstatSync(fd);
          prefix = '';
          // The new file starts by saying where the log now begins: removing the oldest files by hand
          // would otherwise look like a rotation.
          ({ text, head } = chained(lines, [rotationEntry(entry, kept), entry], this.head));
        }
        const out = Buffer.from(`${stat.size === 0 ? '' : prefix}${text}`, 'utf8');
        writeSync(fd, out);
        this.head = head;
        this.known = { ino: stat.ino, size: stat.size + out.length };
        return head;
      } finally {
        if (fd >= 0) closeSync(fd);
      }
    } finally {
      unlock();
    }
  }

  /** Whether the current file can have come from where we left it by appends and rotations (ours or another agent's). */
  private explained(known: { ino: number; size: number }, now: { ino: number; size: number }): boolean {
    if (now.ino === known.ino) return now.size >= known.size;
    return this.files().some((file) => {
      try {
        const stat = lstatSync(file.path);
        return stat.ino === known.ino && stat.size >= known.size;
      } catch {
        return false;
      }
    });
  }

  private ensureDir(): void {
    try {
      mkdirSync(this.dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (!lstatSync(this.dir).isDirectory()) throw new Error(`${this.dir} is not a directory`);
  }

  /** The last line of the newest rotated file: where a fresh current file carries on from. */
  private rotatedHead(): AuditHead | null {
    const rotated = this.files().filter((f) => f.name !== CURRENT);
    const newest = rotated[rotated.length - 1];
    if (newest === undefined) return null;
    const fd = openSync(newest.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return tailOf(fd, fstatSync(fd).size).head;
    } finally {
      closeSync(fd);
    }
  }

  private rotate(path: string): AuditRotation {
    const text = readFileSync(path, 'utf8');
    const first = parseAuditLine(text.slice(0, text.indexOf('\n')));
    // A damaged first line: the seq it must have had, counting back from the head.
    const lines = text.split('\n').filter((l) => l !== '').length;
    const firstSeq = first?.seq ?? Math.max(1, (this.head?.seq ?? lines) - lines + 1);
    renameSync(path, join(this.dir, `${String(firstSeq).padStart(12, '0')}.jsonl`));
    const rotated = this.files().filter((f) => f.name !== CURRENT);
    const removed = rotated.slice(0, Math.max(0, rotated.length - this.keepFiles));
    for (const old of removed) unlinkSync(old.path);
    const oldest = rotated[removed.length];
    return { keptFrom: oldest === undefined ? (this.head?.seq ?? 0) + 1 : fileFirstSeq(oldest.name)!, removed: removed.map((f) => f.name) };
  }

  /** An O_EXCL lock file holding our pid; a dead holder's is taken over, a stuck one after LOCK_WAIT_MS. */
  private lock(): () => void {
    const path = join(this.dir, '.lock');
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        const fd = openSync(path, 'wx', 0o600);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return () => {
          try {
            unlinkSync(path);
          } catch {
            // taken over as stuck by another agent
          }
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let text: string;
      try {
        text = readFileSync(path, 'utf8').trim();
      } catch {
        continue;
      }
      const holder = Number(text);
      // Empty: its holder has made it and is writing its pid.
      const alive = text === '' || (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processStart(holder) !== null);
      if (!alive || Date.now() > deadline) {
        try {
          unlinkSync(path);
        } catch {
          // another waiter took it first
        }
        continue;
      }
      sleepMs(1);
    }
  }
}
