import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { utf8 } from '../../../protocol/bytes.ts';
import { encodeLogRecord, LOG_FILE, LogKinds, type LogKind } from './logFormat.ts';

/**
 * Bytes of output kept on the host per job (stdout and stderr together), unless the job asks for
 * another cap (--max-log-size). Past it the log holds a note and output still streams to an
 * attached client.
 */
export const DEFAULT_MAX_LOG_BYTES = 64 * 1024 * 1024;

/**
 * A job's output on disk (see logFormat.ts). Writing never throws: a full disk or the cap stops
 * the recording, never the job or its stream, and the reason is kept for the record.
 */
export class JobLog {
  private fd: number | null;
  readonly maxBytes: number;
  private written = 0;
  /** Why recording stopped early, or null while complete. */
  stopped: string | null = null;

  /** `resume`: what an earlier agent had recorded of this job (a job taken over carries on). */
  constructor(dir: string, maxBytes: number = DEFAULT_MAX_LOG_BYTES, resume?: { written: number; dropped: boolean }) {
    this.maxBytes = maxBytes;
    this.written = resume?.written ?? 0;
    if (resume?.dropped === true) this.stopped = `herd: output log capped at ${maxBytes} bytes`;
    this.fd = openSync(join(dir, LOG_FILE), 'a', 0o600);
  }

  /** Output bytes recorded (headers and notes not counted). */
  get bytes(): number {
    return this.written;
  }

  write(channel: 1 | 2, bytes: Uint8Array): void {
    if (this.stopped !== null || this.fd === null) return;
    if (this.written + bytes.length > this.maxBytes) {
      // What fits still goes in, so the log holds exactly the first maxBytes.
      const room = this.maxBytes - this.written;
      if (room > 0) this.append(channel, bytes.subarray(0, room));
      this.stop(`herd: output log capped at ${this.maxBytes} bytes; later output was streamed to attached clients but not recorded`);
      return;
    }
    this.append(channel, bytes);
  }

  /** A line of herd's own in the log (e.g. why the job could not start). */
  note(line: string): void {
    if (this.fd === null) return;
    try {
      writeSync(this.fd, encodeLogRecord(LogKinds.Note, Date.now(), utf8(line)));
    } catch {
      // nothing more to do on a full disk
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private append(kind: LogKind, bytes: Uint8Array): void {
    try {
      writeSync(this.fd!, encodeLogRecord(kind, Date.now(), bytes));
      this.written += bytes.length;
    } catch (err) {
      this.stop(`herd: output log stopped: ${(err as Error).message}`);
    }
  }

  private stop(reason: string): void {
    this.stopped = reason;
    this.note(reason);
  }
}
