import { HerdError } from '../../protocol/errors.ts';
import type { AuditEnd, AuditRead } from '../../protocol/messages.ts';
import type { HostConnection } from '../connection/hostConnection.ts';

/** A host's answer to audit-read: the bytes of its log (or the matching lines) and where its files end. */
export interface AuditReply {
  bytes: Buffer;
  end: AuditEnd;
}

/** More than a host keeps by default (9 files of 16 MiB), far less than would hurt the client. */
export const MAX_AUDIT_READ_BYTES = 256 * 1024 * 1024;

export async function readAudit(connection: HostConnection, request: AuditRead): Promise<AuditReply> {
  const chunks: Buffer[] = [];
  let total = 0;
  let end: AuditEnd | null = null;
  const tooBig = (): HerdError => new HerdError('LIMIT', `the host's audit log is over ${MAX_AUDIT_READ_BYTES / 1024 / 1024} MiB; read it with --since or --subject`);
  const reading = connection.requestStream(request, {
    message: (reply) => {
      if (reply.t === 'audit-end') end = reply;
      return 'end';
    },
    data: (_channel, bytes, done) => {
      total += bytes.length;
      // Past the cap nothing more is kept or acknowledged: the host's flow control stops it.
      if (total > MAX_AUDIT_READ_BYTES) {
        connection.close();
        return;
      }
      chunks.push(Buffer.from(bytes));
      done();
    },
  });
  try {
    await reading;
  } catch (err) {
    throw total > MAX_AUDIT_READ_BYTES ? tooBig() : err;
  }
  if (total > MAX_AUDIT_READ_BYTES) throw tooBig();
  if (end === null) throw new HerdError('PROTOCOL', 'the host answered audit-read without audit-end');
  return { bytes: Buffer.concat(chunks), end };
}
