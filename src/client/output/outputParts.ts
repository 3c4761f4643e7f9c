import type { JobLimits } from '../../protocol/messages.ts';
import type { Io } from '../commands/types.ts';
import { exitStatus, summaryLine, type HostOutcome } from './outcome.ts';
import { errorLine, resultNote } from './render.ts';
import { isTerminal } from './terminal.ts';

/* What every output mode of herd run is, and the pieces they share. */

export interface RunOutput {
  /** A host's job started. */
  started(host: string, jobId: string): void;
  /** Output of a host's job; `done` once it has been taken, so the host may send more. */
  output(host: string, channel: 1 | 2, bytes: Uint8Array, done: () => void): void;
  /** A host is done: its result or its error is in the outcome. */
  hostDone(outcome: HostOutcome): void;
  /** Every host is done (or the run was interrupted): what is left to print. */
  end(outcomes: readonly HostOutcome[]): void;
}

/** Errors, notes (OOM) and, for several hosts, the summary line: on stderr, after the output. */
export function closingLines(io: Io, outcomes: readonly HostOutcome[], limits: JobLimits): void {
  for (const o of outcomes) {
    if (o.error !== null) io.stderr.write(`${errorLine(o.error)}\n`);
    const line = o.result === null ? null : resultNote(o.host, o.result, limits);
    if (line !== null) io.stderr.write(`${line}\n`);
  }
  if (outcomes.length > 1) io.stderr.write(`${summaryLine(outcomes)}\n`);
}

/** Hosts done out of all, and failures, on one line rewritten in place: only on a terminal, never in pipes. */
export class Progress {
  private done = 0;
  private failed = 0;
  private readonly io: Io;
  private readonly total: number;
  private readonly enabled: boolean;

  constructor(io: Io, total: number) {
    this.io = io;
    this.total = total;
    this.enabled = isTerminal(io.stderr) && total > 1;
  }

  hostDone(outcome: HostOutcome): void {
    this.done++;
    if (exitStatus(outcome) !== 0) this.failed++;
    if (this.enabled) this.io.stderr.write(`\r\x1b[Kherd: ${this.done}/${this.total} hosts done${this.failed > 0 ? `, ${this.failed} failed` : ''}`);
  }

  clear(): void {
    if (this.enabled && this.done > 0) this.io.stderr.write('\r\x1b[K');
  }
}

