/**
 * Writes to a local stream and calls `done` once the bytes are taken, so the host
 * gets credit back only as fast as our stdout drains. One 'drain' listener serves
 * every chunk waiting on it.
 */
export class OutputGate {
  private readonly out: NodeJS.WritableStream;
  private waiting: Array<() => void> = [];

  constructor(out: NodeJS.WritableStream) {
    this.out = out;
  }

  write(bytes: Uint8Array, done: () => void): void {
    const ok = this.out.write(bytes);
    if (ok && this.waiting.length === 0) {
      done();
      return;
    }
    if (this.waiting.length === 0) {
      this.out.once('drain', () => {
        const ready = this.waiting;
        this.waiting = [];
        for (const callback of ready) callback();
      });
    }
    this.waiting.push(done);
  }
}
