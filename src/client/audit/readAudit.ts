import { HerdError } from '../../protocol/errors.ts';
import type { AuditEnd, AuditFileInfo, AuditRead } from '../../protocol/messages.ts';
import type { HostConnection } from '../connection/hostConnection.ts';
import type { AuditHead } from '../../shared/auditChain.ts';

/** Where a host's audit bytes go as they arrive: nothing of the log is held here. */
export interface AuditStream {
  /** With `all`: the files the bytes come from, in order, before their bytes. */
  files?(files: readonly AuditFileInfo[], head: AuditHead | null): void;
  /** The next bytes; 'stop' ends the read (what is left says nothing new), a thrown HerdError fails it. */
  bytes(bytes: Uint8Array): 'more' | 'stop';
}

/** More than a host keeps by default (9 files of 16 MiB). */
export const MAX_AUDIT_READ_BYTES = 256 * 1024 * 1024;

/**
 * Reads a host's audit log into `into`; the host's end (null when `into` stopped early). Past
 * `maxBytes` the read fails with LIMIT; bytes are acknowledged as they are taken, so the host's
 * flow control paces it by our reading.
 */
export async function readAudit(connection: HostConnection, request: AuditRead, into: AuditStream, maxBytes: number = MAX_AUDIT_READ_BYTES): Promise<AuditEnd | null> {
  let total = 0;
  let end: AuditEnd | null = null;
  let failure: HerdError | null = null;
  let stopped = false;
  const quit = (error: HerdError | null): void => {
    failure = error;
    stopped = true;
    connection.close();
  };
  const reading = connection.requestStream(request, {
    message: (reply) => {
      if (reply.t === 'audit-files' && into.files !== undefined && end === null && total === 0) {
        into.files(reply.files, reply.head);
        return 'more';
      }
      if (reply.t === 'audit-end') end = reply;
      else quit(new HerdError('PROTOCOL', `the host answered audit-read with "${reply.t}"`));
      return 'end';
    },
    data: (_channel, bytes, done) => {
      if (stopped) return;
      total += bytes.length;
      if (total > maxBytes) {
        quit(new HerdError('LIMIT', `the host's audit log is over ${maxBytes / 1024 / 1024} MiB; read it with --since or --subject`));
        return;
      }
      try {
        if (into.bytes(bytes) === 'stop') {
          quit(null);
          return;
        }
      } catch (err) {
        quit(err instanceof HerdError ? err : new HerdError('INTERNAL', String(err)));
        return;
      }
      done();
    },
  });
  try {
    await reading;
  } catch (err) {
    if (!stopped) throw err;
  }
  if (failure !== null) throw failure;
  if (stopped) return null;
  if (end === null) throw new HerdError('PROTOCOL', 'the host answered audit-read without audit-end');
  return end;
}
