/** Writes whole lines with a host prefix, holding a partial line until it completes or the job ends. */
export class PrefixedLines {
  private partial: Buffer = Buffer.alloc(0);
  private readonly prefix: Buffer;
  private readonly out: NodeJS.WritableStream;

  constructor(prefix: string, out: NodeJS.WritableStream) {
    this.prefix = Buffer.from(prefix);
    this.out = out;
  }

  /** Returns false when the destination wants us to wait for 'drain'. */
  write(bytes: Uint8Array): boolean {
    const data = this.partial.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.partial, bytes]);
    const last = data.lastIndexOf(10);
    if (last < 0) {
      this.partial = data;
      return true;
    }
    this.partial = data.subarray(last + 1);
    const lines: Buffer[] = [];
    let start = 0;
    while (start <= last) {
      const end = data.indexOf(10, start);
      lines.push(this.prefix, data.subarray(start, end + 1));
      start = end + 1;
    }
    return this.out.write(Buffer.concat(lines));
  }

  flush(): void {
    if (this.partial.length === 0) return;
    this.out.write(Buffer.concat([this.prefix, this.partial, Buffer.from('\n')]));
    this.partial = Buffer.alloc(0);
  }
}
