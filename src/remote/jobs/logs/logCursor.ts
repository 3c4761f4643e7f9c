import { closeSync, openSync, readSync } from 'node:fs';
import { decodeLogHeader, LOG_HEADER_BYTES, type LogKind } from './logFormat.ts';

/** A piece of one record's payload; `first` marks the piece a record starts with. */
export interface LogPiece {
  kind: LogKind;
  atMs: number;
  bytes: Uint8Array;
  first: boolean;
}

/**
 * Reads a job's output log front to back in bounded pieces. At the end of what is written so
 * far it returns null and keeps its place, so a follower calls next() again when more arrives.
 * A log that does not exist yet (a scheduled job) reads as empty until it does.
 */
export class LogCursor {
  private fd: number | null = null;
  private position = 0;
  private current: { kind: LogKind; atMs: number; remaining: number; first: boolean } | null = null;
  private readonly header = new Uint8Array(LOG_HEADER_BYTES);
  private readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  next(max: number): LogPiece | null {
    if (this.fd === null) {
      try {
        this.fd = openSync(this.path, 'r');
      } catch {
        return null;
      }
    }
    if (this.current === null) {
      if (readSync(this.fd, this.header, 0, LOG_HEADER_BYTES, this.position) < LOG_HEADER_BYTES) return null;
      const header = decodeLogHeader(this.header);
      this.position += LOG_HEADER_BYTES;
      this.current = { kind: header.kind, atMs: header.atMs, remaining: header.length, first: true };
      if (header.length === 0) {
        this.current = null;
        return { kind: header.kind, atMs: header.atMs, bytes: new Uint8Array(0), first: true };
      }
    }
    const record = this.current;
    const bytes = new Uint8Array(Math.min(max, record.remaining));
    const read = readSync(this.fd, bytes, 0, bytes.length, this.position);
    if (read === 0) return null;
    this.position += read;
    record.remaining -= read;
    const piece = { kind: record.kind, atMs: record.atMs, bytes: bytes.subarray(0, read), first: record.first };
    record.first = false;
    if (record.remaining === 0) this.current = null;
    return piece;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
