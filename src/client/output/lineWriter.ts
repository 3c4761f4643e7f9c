import { escapeControlBytes } from './safeText.ts';

/**
 * The longest partial line held for a host before it is shown anyway: past it, the line is split,
 * the piece ending in SPLIT_MARKER, so a host that never ends its line costs a bounded amount of
 * memory and its output still flows.
 */
export const MAX_PARTIAL_LINE = 64 * 1024;
export const SPLIT_MARKER = ' \u2026[line continues]\n';

const NEWLINE = Buffer.from('\n');
const MARKER = Buffer.from(SPLIT_MARKER);

/**
 * Prefixes whole lines with a host's name, holding a partial line until it completes, grows past
 * MAX_PARTIAL_LINE, or the job ends. With `escape` (output to a terminal), control characters in
 * the host's bytes are escaped, so no host can retitle the window, move the cursor or forge
 * another host's line. The partial line is kept as its pieces: each byte is copied once.
 */
export class PrefixedLines {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private readonly prefix: Buffer;
  private readonly escape: boolean;

  constructor(prefix: string, options: { escape?: boolean } = {}) {
    this.prefix = Buffer.from(prefix);
    this.escape = options.escape === true;
  }

  /** The complete lines in what has arrived so far, prefixed; empty when none completed. */
  push(bytes: Uint8Array): Buffer {
    const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const out: Uint8Array[] = [];
    let start = 0;
    for (;;) {
      const newline = data.indexOf(10, start);
      if (newline < 0) break;
      this.line(out, data.subarray(start, newline + 1));
      start = newline + 1;
    }
    let rest = data.subarray(start);
    while (this.partialBytes + rest.length > MAX_PARTIAL_LINE) {
      const take = MAX_PARTIAL_LINE - this.partialBytes;
      this.partial.push(rest.subarray(0, take));
      this.partialBytes += take;
      rest = rest.subarray(take);
      this.line(out, MARKER);
    }
    if (rest.length > 0) {
      // A copy: the caller's buffer may be reused once this returns.
      this.partial.push(Buffer.from(rest));
      this.partialBytes += rest.length;
    }
    return out.length === 0 ? Buffer.alloc(0) : Buffer.concat(out);
  }

  /** What is left of an unterminated last line, prefixed and ended with a newline. */
  end(): Buffer {
    if (this.partialBytes === 0) return Buffer.alloc(0);
    const out: Uint8Array[] = [];
    this.line(out, NEWLINE);
    return Buffer.concat(out);
  }

  /** Emits the held partial line (if any) with `tail`, which ends it, behind the prefix. */
  private line(out: Uint8Array[], tail: Uint8Array): void {
    out.push(this.prefix);
    const ours = tail === MARKER || tail === NEWLINE;
    if (this.escape) {
      // Escaped as one line: a control sequence sent in two pieces is still one sequence.
      const text = Buffer.concat(ours ? this.partial : [...this.partial, tail]);
      out.push(escapeControlBytes(text));
      if (ours) out.push(tail);
    } else {
      out.push(...this.partial, tail);
    }
    this.partial = [];
    this.partialBytes = 0;
  }
}

/** Starts every line with the time its first byte was recorded (`herd job logs --timestamps`). */
export class StampedLines {
  private atLineStart = true;

  push(bytes: Uint8Array, stamp: string): Buffer {
    const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const parts: Buffer[] = [];
    let start = 0;
    while (start < data.length) {
      if (this.atLineStart) parts.push(Buffer.from(`${stamp} `));
      const newline = data.indexOf(10, start);
      const end = newline < 0 ? data.length : newline + 1;
      parts.push(data.subarray(start, end));
      this.atLineStart = newline >= 0;
      start = end;
    }
    return Buffer.concat(parts);
  }
}
