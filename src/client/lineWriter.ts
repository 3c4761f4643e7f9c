/** Prefixes whole lines with a host's name, holding a partial line until it completes or the job ends. */
export class PrefixedLines {
  private partial: Buffer = Buffer.alloc(0);
  private readonly prefix: Buffer;

  constructor(prefix: string) {
    this.prefix = Buffer.from(prefix);
  }

  /** The complete lines in what has arrived so far, prefixed; empty when none completed. */
  push(bytes: Uint8Array): Buffer {
    const data = this.partial.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.partial, bytes]);
    const last = data.lastIndexOf(10);
    if (last < 0) {
      this.partial = data;
      return Buffer.alloc(0);
    }
    this.partial = data.subarray(last + 1);
    const lines: Buffer[] = [];
    let start = 0;
    while (start <= last) {
      const end = data.indexOf(10, start);
      lines.push(this.prefix, data.subarray(start, end + 1));
      start = end + 1;
    }
    return Buffer.concat(lines);
  }

  /** What is left of an unterminated last line, prefixed and ended with a newline. */
  end(): Buffer {
    if (this.partial.length === 0) return Buffer.alloc(0);
    const out = Buffer.concat([this.prefix, this.partial, Buffer.from('\n')]);
    this.partial = Buffer.alloc(0);
    return out;
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
