import { constants } from 'node:os';
import type { HerdError } from '../../protocol/errors.ts';
import type { JobInfo, JobResult } from '../../protocol/messages.ts';
import { foldNodeset } from '../hosts/nodeset.ts';

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
  connection?: { direct: boolean; reused: boolean; phases: Record<string, number> };
  /** --upload: the files and bytes the job got, and the content bytes this host had to be sent (the rest it held by hash). */
  upload?: { files: number; bytes: number; sentBytes: number };
  /** --download: what came back from the job's /work, and where it went. */
  download?: { files: number; bytes: number; into: string };
  /** --json: what the host wrote, collected. */
  stdout?: Uint8Array;
  stderr?: Uint8Array;
}

/** herd's own failures use 255, as ssh does, so they do not look like a command's status. */
export const EXIT_HERD_ERROR = 255;
export const EXIT_USAGE = 2;
export const EXIT_NOT_FOUND = 127;
export const EXIT_INTERRUPTED = 130;
/** A job stopped by its --timeout, as timeout(1) reports it. */
export const EXIT_TIMED_OUT = 124;
/** No job failed, but some hosts could not be reached. */
export const EXIT_UNREACHABLE = 254;

/** A host herd could not reach or use (no connection, no handshake in time, or the connection dropped before its job started). */
export function unreachable(outcome: HostOutcome): boolean {
  const code = outcome.error?.code;
  return outcome.result === null && outcome.jobId === null && (code === 'HOST_UNREACHABLE' || code === 'HOST_UNRESPONSIVE' || code === 'CONNECTION_LOST');
}

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

/**
 * The exit status of a run: 0 when every host succeeded; else the largest status of a job that
 * ran (or whose command was not found); else 254 when hosts could not be reached, 2 for a usage
 * error, 255 for herd's own failures.
 */
export function overallStatus(outcomes: readonly HostOutcome[]): number {
  const jobs = outcomes.filter((o) => o.result !== null || o.error?.code === 'COMMAND_NOT_FOUND').map(exitStatus);
  const worstJob = Math.max(0, ...jobs);
  if (worstJob !== 0) return worstJob;
  return Math.max(0, ...outcomes.map((o) => (unreachable(o) ? EXIT_UNREACHABLE : exitStatus(o))));
}

/** One line: "herd: 4 hosts: 2 ok, 1 failed (web2: exit 1), 1 unreachable (web4)". Long lists are cut. */
export function summaryLine(outcomes: readonly HostOutcome[]): string {
  // Hosts that ended alike are folded as -b folds them: "exit 1: web[1-3,7]; exit 2: db1".
  const folded = (items: ReadonlyArray<{ key: string; host: string }>): string => {
    const byKey = new Map<string, string[]>();
    for (const { key, host } of items) byKey.set(key, [...(byKey.get(key) ?? []), host]);
    return [...byKey.entries()].map(([key, hosts]) => `${key}: ${foldNodeset(hosts)}`).join('; ');
  };
  const ok = outcomes.filter((o) => exitStatus(o) === 0);
  const failed = outcomes.filter((o) => o.result !== null && exitStatus(o) !== 0);
  const away = outcomes.filter(unreachable);
  const errored = outcomes.filter((o) => o.result === null && o.error !== null && !unreachable(o));
  const parts = [`${ok.length} ok`];
  if (failed.length > 0) parts.push(`${failed.length} failed (${folded(failed.map((o) => ({ key: `exit ${exitStatus(o)}`, host: o.host })))})`);
  if (away.length > 0) parts.push(`${away.length} unreachable (${foldNodeset(away.map((o) => o.host))})`);
  if (errored.length > 0) parts.push(`${errored.length} errors (${folded(errored.map((o) => ({ key: o.error?.code ?? 'unknown', host: o.host })))})`);
  const rerun = failed.length + away.length + errored.length > 0 ? '; rerun those with -H @failed' : '';
  return `herd: ${outcomes.length} hosts: ${parts.join(', ')}${rerun}`;
}
