import type { JobSignal } from '../protocol/messages.ts';

export interface Signalable {
  signal(signal: JobSignal): void;
}

/**
 * Ctrl-C semantics: the first SIGINT (or SIGTERM) sends SIGTERM to every job and SIGKILL
 * after the grace period; a second one sends SIGKILL at once. Jobs started after an
 * interrupt get the same treatment as soon as they are added.
 */
export class Interrupts {
  private readonly jobs: Signalable[] = [];
  private readonly graceMs: number;
  private readonly notice: (line: string) => void;
  private count = 0;
  private killTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly onSignal = (): void => this.interrupt();

  constructor(graceMs: number, notice: (line: string) => void) {
    this.graceMs = graceMs;
    this.notice = notice;
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  get interrupted(): boolean {
    return this.count > 0;
  }

  add(job: Signalable): void {
    this.jobs.push(job);
    if (this.count > 0) job.signal(this.count === 1 ? 'TERM' : 'KILL');
  }

  interrupt(): void {
    this.count++;
    if (this.count === 1) {
      for (const job of this.jobs) job.signal('TERM');
      this.notice(`herd: interrupted; sent SIGTERM to ${this.jobs.length} job(s), SIGKILL follows in ${Math.round(this.graceMs / 1000)} s (Ctrl-C again to kill now)`);
      this.killTimer = setTimeout(() => this.killAll(), this.graceMs);
    } else {
      this.killAll();
    }
  }

  dispose(): void {
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    if (this.killTimer !== undefined) clearTimeout(this.killTimer);
  }

  private killAll(): void {
    for (const job of this.jobs) job.signal('KILL');
  }
}
