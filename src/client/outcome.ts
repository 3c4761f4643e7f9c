import { constants } from 'node:os';
import type { HerdError } from '../protocol/errors.ts';
import type { JobInfo, JobResult } from '../protocol/messages.ts';

/** What happened on one host, as data; rendering is separate. */
export interface HostOutcome {
  host: string;
  jobId: string | null;
  result: JobResult | null;
  /** A detached job as the host reported it when it started (or was scheduled). */
  job?: JobInfo;
  error: HerdError | null;
  /** Whether this run had to ship the helper to the host (first contact). */
  shippedHelper: boolean;
  /** How the host was reached, and when each phase ended (ms from the start of connecting). */
  connection?: { direct: boolean; phases: Record<string, number> };
  stdout?: string;
  stderr?: string;
}

/** herd's own failures use 255, as ssh does, so they do not look like a command's status. */
export const EXIT_HERD_ERROR = 255;
export const EXIT_USAGE = 2;
export const EXIT_NOT_FOUND = 127;
export const EXIT_INTERRUPTED = 130;
/** A job stopped by its --timeout, as timeout(1) reports it. */
export const EXIT_TIMED_OUT = 124;

export function signalNumber(name: string): number {
  const value = (constants.signals as Record<string, number>)[`SIG${name}`];
  return value ?? 0;
}

export function exitStatus(outcome: HostOutcome): number {
  if (outcome.result !== null) {
    if (outcome.result.timedOut) return EXIT_TIMED_OUT;
    if (outcome.result.exitCode !== null) return outcome.result.exitCode;
    if (outcome.result.signal !== null) return 128 + signalNumber(outcome.result.signal);
    return EXIT_HERD_ERROR;
  }
  return outcome.error === null ? EXIT_HERD_ERROR : errorStatus(outcome.error);
}

/** The exit status an error stands for: 127 for a missing command, 2 for a usage error, else 255. */
export function errorStatus(error: HerdError): number {
  switch (error.code) {
    case 'COMMAND_NOT_FOUND':
      return EXIT_NOT_FOUND;
    case 'INVALID_SPEC':
      return EXIT_USAGE;
    default:
      return EXIT_HERD_ERROR;
  }
}

/** The status `herd job wait` exits with: the job's, as `herd run` would have; 255 when it never got one. */
export function jobExitStatus(job: JobInfo): number {
  if (job.timedOut) return EXIT_TIMED_OUT;
  if (job.exitCode !== null) return job.exitCode;
  if (job.signal !== null) return 128 + signalNumber(job.signal);
  return EXIT_HERD_ERROR;
}

export function overallStatus(outcomes: readonly HostOutcome[]): number {
  return outcomes.reduce((max, o) => Math.max(max, exitStatus(o)), 0);
}

/** One line: "herd: 3 hosts: 2 ok, 1 failed (web2: exit 1)". */
export function summaryLine(outcomes: readonly HostOutcome[]): string {
  const ok = outcomes.filter((o) => exitStatus(o) === 0);
  const failed = outcomes.filter((o) => o.result !== null && exitStatus(o) !== 0);
  const errored = outcomes.filter((o) => o.result === null);
  const parts = [`${ok.length} ok`];
  if (failed.length > 0) parts.push(`${failed.length} failed (${failed.map((o) => `${o.host}: exit ${exitStatus(o)}`).join(', ')})`);
  if (errored.length > 0) parts.push(`${errored.length} errors (${errored.map((o) => `${o.host}: ${o.error?.code ?? 'unknown'}`).join(', ')})`);
  return `herd: ${outcomes.length} hosts: ${parts.join(', ')}`;
}
