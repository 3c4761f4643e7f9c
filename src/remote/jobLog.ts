import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Bytes of output kept on the host per job (stdout and stderr together). Past it the
 * log holds a marker and output still streams to an attached client. `herd job logs`
 * (a later issue) reads these files.
 */
export const DEFAULT_MAX_LOG_BYTES = 64 * 1024 * 1024;

/**
 * A job's output on disk. Writing never throws: a full disk or the cap stops the
 * recording, never the job or its stream, and the reason is kept for the record.
 */
export class JobLog {
  private readonly files: { 1: number | null; 2: number | null };
  private readonly maxBytes: number;
  private written = 0;
  /** Why recording stopped early, or null while complete. */
  stopped: string | null = null;

  constructor(dir: string, maxBytes: number = DEFAULT_MAX_LOG_BYTES) {
    this.maxBytes = maxBytes;
    this.files = { 1: openSync(join(dir, 'stdout'), 'a', 0o600), 2: openSync(join(dir, 'stderr'), 'a', 0o600) };
  }

  get bytes(): number {
    return this.written;
  }

  write(channel: 1 | 2, bytes: Uint8Array): void {
    const fd = this.files[channel];
    if (this.stopped !== null || fd === null) return;
    if (this.written + bytes.length > this.maxBytes) {
      this.stop(`herd: output log capped at ${this.maxBytes} bytes; later output was streamed but not recorded`);
      return;
    }
    try {
      writeSync(fd, bytes);
      this.written += bytes.length;
    } catch (err) {
      this.stop(`herd: output log stopped: ${(err as Error).message}`);
    }
  }

  /** A line of herd's own in the job's stderr log (e.g. why the job could not start). */
  note(line: string): void {
    const fd = this.files[2];
    if (fd === null) return;
    try {
      writeSync(fd, `${line}\n`);
    } catch {
      // nothing more to do on a full disk
    }
  }

  close(): void {
    for (const channel of [1, 2] as const) {
      const fd = this.files[channel];
      if (fd !== null) closeSync(fd);
      this.files[channel] = null;
    }
  }

  private stop(reason: string): void {
    this.stopped = reason;
    // The marker goes into both files, where a reader of either will see the gap.
    for (const channel of [1, 2] as const) {
      const fd = this.files[channel];
      if (fd === null) continue;
      try {
        writeSync(fd, `\n${reason}\n`);
      } catch {
        // the disk is full: the record below still says why
      }
    }
  }
}
