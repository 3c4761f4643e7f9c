import type { JobSignal } from '../../protocol/messages.ts';

export interface Signalable {
  signal(signal: JobSignal): void;
}

/** How long a last SIGKILL to the jobs gets to leave before herd exits. */
const LAST_WORD_MS = 300;

/**
 * Ctrl-C semantics: the first SIGINT (or SIGTERM) sends SIGTERM to every job and SIGKILL
 * after the grace period; a second one sends SIGKILL at once and exits. With no job started
 * yet there is nothing to stop, so the first one exits at once (a host that never answers
 * cannot hold herd). Jobs started after an interrupt get the same treatment as soon as they
 * are added.
 */
export class Interrupts {
  private readonly jobs: Signalable[] = [];
  private readonly graceMs: number;
  private readonly notice: (line: string) => void;
  private readonly exit: (status: number) => void;
  private count = 0;
  private killTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly onInt = (): void => this.interrupt('SIGINT');
  private readonly onTerm = (): void => this.interrupt('SIGTERM');

  constructor(graceMs: number, notice: (line: string) => void, exit: (status: number) => void) {
    this.graceMs = graceMs;
    this.notice = notice;
    this.exit = exit;
    process.on('SIGINT', this.onInt);
    process.on('SIGTERM', this.onTerm);
  }

  get interrupted(): boolean {
    return this.count > 0;
  }

  add(job: Signalable): void {
    this.jobs.push(job);
    if (this.count > 0) job.signal(this.count === 1 ? 'TERM' : 'KILL');
  }

  /** The shell's status for a process ended by the signal: 130 for SIGINT, 143 for SIGTERM. */
  interrupt(signal: 'SIGINT' | 'SIGTERM' = 'SIGINT'): void {
    this.count++;
    const status = 128 + (signal === 'SIGINT' ? 2 : 15);
    if (this.count === 1 && this.jobs.length === 0) {
      this.notice('herd: interrupted before any job started; exiting');
      this.exit(status);
    } else if (this.count === 1) {
      for (const job of this.jobs) job.signal('TERM');
      this.notice(`herd: interrupted; sent SIGTERM to ${this.jobs.length} job(s), SIGKILL follows in ${Math.round(this.graceMs / 1000)} s (Ctrl-C again to kill now)`);
      this.killTimer = setTimeout(() => this.killAll(), this.graceMs);
    } else if (this.count === 2) {
      this.killAll();
      this.notice(`herd: interrupted again; sent SIGKILL to ${this.jobs.length} job(s); exiting`);
      setTimeout(() => this.exit(status), LAST_WORD_MS);
    }
  }

  dispose(): void {
    process.removeListener('SIGINT', this.onInt);
    process.removeListener('SIGTERM', this.onTerm);
    if (this.killTimer !== undefined) clearTimeout(this.killTimer);
  }

  private killAll(): void {
    for (const job of this.jobs) job.signal('KILL');
  }
}
