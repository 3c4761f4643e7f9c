/**
 * Splits a host's audit bytes into lines as they arrive, holding at most one line: a host may
 * send anything, and neither a line without end nor a flood of empty ones may cost the client
 * more than the line it is on. No I/O here.
 */
export interface LineSink {
  line(text: string): void;
  /** A piece longer than `maxLineBytes` before its newline: dropped up to the next newline. */
  tooLong(): void;
}

const NEWLINE = 0x0a;

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private skipping = false;

  constructor(
    private readonly sink: LineSink,
    private readonly maxLineBytes: number,
  ) {}

  push(bytes: Uint8Array): void {
    const chunk = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    while (at < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, at);
      const end = newline === -1 ? chunk.length : newline;
      if (!this.skipping) {
        if (this.pendingBytes + (end - at) > this.maxLineBytes) {
          this.pending = [];
          this.pendingBytes = 0;
          this.skipping = true;
          this.sink.tooLong();
        } else if (end > at) {
          // Copied: the chunk may be a view of a buffer its sender reuses.
          this.pending.push(Buffer.from(chunk.subarray(at, end)));
          this.pendingBytes += end - at;
        }
      }
      if (newline === -1) return;
      if (this.skipping) this.skipping = false;
      else this.sink.line(this.take());
      at = newline + 1;
    }
  }

  /** The input is over: whether something followed the last newline (a torn line, not passed on). */
  end(): boolean {
    const torn = this.pendingBytes > 0 || this.skipping;
    this.pending = [];
    this.pendingBytes = 0;
    this.skipping = false;
    return torn;
  }

  private take(): string {
    const text = this.pending.length === 1 ? this.pending[0]!.toString('utf8') : Buffer.concat(this.pending).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    return text;
  }
}
