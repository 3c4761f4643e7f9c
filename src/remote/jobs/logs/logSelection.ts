import type { LogPiece } from './logCursor.ts';

const NEWLINE = 0x0a;

/**
 * Which part of a log a reader wants: some channels, from a byte offset into them (where an
 * attached client stopped) or from the start of the last N lines. Pure: the pieces go in, the
 * bytes to send come out.
 */
export class LogSelection {
  private readonly channels: ReadonlySet<number>;
  private skipBytes: number;
  private skipLines: number;

  constructor(channels: ReadonlySet<1 | 2>, options: { fromByte?: number; skipLines?: number } = {}) {
    this.channels = channels;
    this.skipBytes = options.fromByte ?? 0;
    this.skipLines = options.skipLines ?? 0;
  }

  /** What of a data piece to send (null: none of it). Notes are not data: the caller always shows them. */
  take(piece: LogPiece): Uint8Array | null {
    if (!this.channels.has(piece.kind)) return null;
    let bytes = piece.bytes;
    if (this.skipBytes > 0) {
      const skipped = Math.min(this.skipBytes, bytes.length);
      this.skipBytes -= skipped;
      bytes = bytes.subarray(skipped);
    }
    while (this.skipLines > 0 && bytes.length > 0) {
      const newline = bytes.indexOf(NEWLINE);
      if (newline < 0) return null;
      bytes = bytes.subarray(newline + 1);
      this.skipLines--;
    }
    return bytes.length === 0 ? null : bytes;
  }
}

/** Counts the lines of the selected channels so far: how many a reader skips to see the last `tail`. */
export class LineCounter {
  private newlines = 0;
  private lastByte = NEWLINE;
  private readonly channels: ReadonlySet<number>;

  constructor(channels: ReadonlySet<1 | 2>) {
    this.channels = channels;
  }

  add(piece: LogPiece): void {
    if (!this.channels.has(piece.kind) || piece.bytes.length === 0) return;
    for (let i = piece.bytes.indexOf(NEWLINE); i >= 0; i = piece.bytes.indexOf(NEWLINE, i + 1)) this.newlines++;
    this.lastByte = piece.bytes[piece.bytes.length - 1]!;
  }

  /** Lines to skip so that `tail` remain (an unfinished last line counts as a line). */
  linesBefore(tail: number): number {
    const lines = this.newlines + (this.lastByte === NEWLINE ? 0 : 1);
    return Math.max(0, lines - tail);
  }
}
