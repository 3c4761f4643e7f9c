import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import type { AuditFileInfo, AuditRead } from '../../protocol/messages.ts';
import { Channel } from '../../protocol/session.ts';
import { parseAuditLine } from '../../shared/auditChain.ts';
import { readAt } from '../audit/auditLog.ts';
import { answer, type RequestContext } from './context.ts';

const CHUNK_BYTES = 64 * 1024;

interface OpenFile {
  name: string;
  fd: number;
  /** Read up to here only: what the file held when the read began. */
  bytes: number;
}


/** Every file's bytes as they were when the read began, in chunks; or only the lines that match. */
function* chunksOf(files: readonly OpenFile[], request: AuditRead): Generator<Uint8Array> {
  for (const file of files) {
    if (request.all === true) {
      for (let at = 0; at < file.bytes; at += CHUNK_BYTES) yield readAt(file.fd, at, Math.min(CHUNK_BYTES, file.bytes - at));
      continue;
    }
    const kept: string[] = [];
    for (const text of readAt(file.fd, 0, file.bytes).toString('utf8').split('\n')) {
      const line = parseAuditLine(text);
      if (line === null) continue;
      if (request.subject !== undefined && line.subject !== request.subject) continue;
      if (request.sinceMs !== undefined && !(Date.parse(line.time) >= request.sinceMs)) continue;
      kept.push(`${text}\n`);
    }
    const out = Buffer.from(kept.join(''), 'utf8');
    for (let at = 0; at < out.length; at += CHUNK_BYTES) yield out.subarray(at, at + CHUNK_BYTES);
  }
}

/**
 * Sends the host's audit log: the files are opened at once and read only as far as they went
 * then, so rotation or appends while the client reads change nothing it gets; the client's pace
 * sets ours (a drain pumps again).
 */
export function readAudit(request: AuditRead, context: RequestContext): void {
  const { agent, session, stream } = context;
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
  const closeAll = (): void => {
    for (const file of files.splice(0)) closeSync(file.fd);
  };
  const chunks = chunksOf(files, request);
  const info: AuditFileInfo[] = request.all === true ? files.map((f) => ({ name: f.name, bytes: f.bytes })) : [];
  const pump = (): void => {
    try {
      for (;;) {
        const next = chunks.next();
        if (next.done === true) {
          closeAll();
          answer(context, { t: 'audit-end', host: agent.audit.host, hostId: agent.audit.hostId, files: info, head });
          return;
        }
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
