import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import type { AuditFileInfo, AuditRead } from '../../protocol/messages.ts';
import { HerdError } from '../../protocol/errors.ts';
import { Channel } from '../../protocol/session.ts';
import { parseAuditLine } from '../../shared/auditChain.ts';
import { readAt } from '../audit/auditLog.ts';
import { answer, type RequestContext } from './context.ts';

const CHUNK_BYTES = 64 * 1024;
/**
 * Longer than any line an agent writes (MAX_AUDIT_LINE_BYTES): a piece without a newline past this
 * is not an audit line, and is skipped to the next newline rather than held.
 */
const MAX_SCANNED_LINE = 64 * 1024;
/** Chunks read without a line to send before the agent turns to its other clients. */
const SCANS_PER_TURN = 16;
/** Audit reads served at once on a host: each holds its files open until the client has it all. */
export const MAX_AUDIT_READS = 8;

interface OpenFile {
  name: string;
  fd: number;
  /** Read up to here only: what the file held when the read began. */
  bytes: number;
}

const SCANNED = new Uint8Array(0);

/** The matching lines of one file, 64 KiB read at a time; SCANNED after a chunk that had none. */
function* matchingLines(file: OpenFile, request: AuditRead): Generator<Uint8Array> {
  let partial = '';
  let skipping = false;
  let kept: string[] = [];
  let keptBytes = 0;
  for (let at = 0; at < file.bytes; at += CHUNK_BYTES) {
    const texts = readAt(file.fd, at, Math.min(CHUNK_BYTES, file.bytes - at)).toString('utf8').split('\n');
    texts[0] = partial + texts[0]!;
    partial = texts.pop()!;
    for (const text of texts) {
      if (skipping) {
        skipping = false;
        continue;
      }
      const line = parseAuditLine(text);
      if (line === null) continue;
      if (request.subject !== undefined && line.subject !== request.subject) continue;
      if (request.sinceMs !== undefined && !(Date.parse(line.time) >= request.sinceMs)) continue;
      kept.push(`${text}\n`);
      keptBytes += text.length + 1;
    }
    if (partial.length > MAX_SCANNED_LINE) {
      partial = '';
      skipping = true;
    }
    if (keptBytes >= CHUNK_BYTES) {
      yield Buffer.from(kept.join(''), 'utf8');
      kept = [];
      keptBytes = 0;
    } else yield SCANNED;
  }
  // A file's last line without its newline is torn: not sent.
  if (kept.length > 0) yield Buffer.from(kept.join(''), 'utf8');
}

/** Every file's bytes as they were when the read began, in chunks; or only the lines that match. */
function* chunksOf(files: readonly OpenFile[], request: AuditRead): Generator<Uint8Array> {
  for (const file of files) {
    if (request.all === true) {
      for (let at = 0; at < file.bytes; at += CHUNK_BYTES) yield readAt(file.fd, at, Math.min(CHUNK_BYTES, file.bytes - at));
      continue;
    }
    yield* matchingLines(file, request);
  }
}

/**
 * Sends the host's audit log: the files are opened at once and read only as far as they went
 * then, so rotation or appends while the client reads change nothing it gets; the client's pace
 * sets ours (a drain pumps again).
 */
export function readAudit(request: AuditRead, context: RequestContext): void {
  const { agent, session, stream } = context;
  if (agent.audit.readers >= MAX_AUDIT_READS) {
    throw new HerdError('LIMIT', `this host is already sending its audit log to ${MAX_AUDIT_READS} readers`, { hint: 'try again in a moment' });
  }
  const log = agent.audit.file;
  const head = log.lastWritten();
  const files: OpenFile[] = [];
  for (const ref of log.files()) {
    try {
      const fd = openSync(ref.path, constants.O_RDONLY | constants.O_NOFOLLOW);
      files.push({ name: ref.name, fd, bytes: fstatSync(fd).size });
    } catch {
      // pruned by a rotation since it was listed: older than what is kept now
    }
  }
  agent.audit.readers++;
  let open = true;
  const closeAll = (): void => {
    if (!open) return;
    open = false;
    agent.audit.readers--;
    for (const file of files.splice(0)) closeSync(file.fd);
  };
  const chunks = chunksOf(files, request);
  const info: AuditFileInfo[] = request.all === true ? files.map((f) => ({ name: f.name, bytes: f.bytes })) : [];
  // The client learns where each file ends before the bytes come, so it can check them as they do.
  if (request.all === true) session.sendMessage(stream, { t: 'audit-files', files: info, head });
  const pump = (): void => {
    try {
      let scanned = 0;
      for (;;) {
        if (!open) return;
        const next = chunks.next();
        if (next.done === true) {
          closeAll();
          answer(context, { t: 'audit-end', host: agent.audit.host, hostId: agent.audit.hostId, files: info, head });
          return;
        }
        if (next.value.length === 0) {
          if (++scanned < SCANS_PER_TURN) continue;
          setImmediate(pump);
          return;
        }
        scanned = 0;
        if (!session.write(stream, Channel.Stdout, next.value)) return;
      }
    } catch (err) {
      closeAll();
      throw err;
    }
  };
  context.streams.serve(stream, { close: closeAll, pump });
  pump();
}
