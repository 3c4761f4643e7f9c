import { isTerminal } from './terminal.ts';
import type { Io } from '../commands/types.ts';

const MIB = 1024 * 1024;

/** The progress line of uploads: what has been sent so far, to how many hosts, how fast. */
export function uploadProgressLine(sentBytes: number, totalBytes: number, hosts: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? sentBytes / MIB / (elapsedMs / 1000) : 0;
  const of = hosts > 1 ? `${(sentBytes / MIB).toFixed(0)} MiB sent to ${hosts} hosts` : `${(sentBytes / MIB).toFixed(0)} of ${(totalBytes / MIB).toFixed(0)} MiB sent`;
  return `herd: uploading ${(totalBytes / MIB).toFixed(0)} MiB: ${of} (${rate.toFixed(0)} MiB/s)`;
}

/**
 * Redraws the upload's progress on stderr four times a second, on a terminal and for uploads of a
 * MiB or more; gone once every host has its upload.
 */
export class UploadProgress {
  private sent = 0;
  private readonly started = performance.now();
  private timer: ReturnType<typeof setInterval> | null = null;
  private drawn = false;
  private hostsDone = 0;

  constructor(
    private readonly io: Io,
    private readonly totalBytes: number,
    private readonly hosts: number,
  ) {
    if (!isTerminal(io.stderr) || totalBytes < MIB) return;
    this.timer = setInterval(() => this.draw(), 250);
    (this.timer as { unref?: () => void }).unref?.();
  }

  add(bytes: number): void {
    this.sent += bytes;
  }

  /** One host has its upload (or will not get it): after the last one the line goes. */
  hostDone(): void {
    if (++this.hostsDone >= this.hosts) this.finish();
  }

  private draw(): void {
    this.drawn = true;
    this.io.stderr.write(`\r\x1b[K${uploadProgressLine(this.sent, this.totalBytes, this.hosts, performance.now() - this.started)}`);
  }

  finish(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.drawn) this.io.stderr.write('\r\x1b[K');
    this.drawn = false;
  }
}
