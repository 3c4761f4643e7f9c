import { MAX_ARGV } from '../limits.ts';
import type { JobUsage } from './run.ts';
import { bool, count, fail, nullableStr, oneOf, str, stringArray, type Shape, type Validators } from './check.ts';

export const JOB_STATES = ['SCHEDULED', 'RUNNING', 'COMPLETED', 'FAILED', 'STOPPED', 'LOST'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** A job as a host reports it (herd job list/status). */
export interface JobInfo {
  id: string;
  argv: string[];
  state: JobState;
  /** Why it is FAILED, STOPPED or LOST, in a few words ("exit 3", "timed out after 5s"). */
  reason: string | null;
  /** The certificate subject that started it. */
  owner: string;
  /** Key id of the CA of that certificate: a job belongs to (CA, subject). Absent on jobs of herd before several CAs. */
  ownerCa?: string;
  hostname: string;
  network: string;
  /** Present when the job ran on the host itself (--isolation none). */
  isolation?: 'none';
  ip: string | null;
  createdAt: string;
  scheduledFor: string | null;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  exitCode: number | null;
  signal: string | null;
  oomKilled: boolean;
  timedOut: boolean;
  timeoutMs: number | null;
  usage?: JobUsage;
  /** Output bytes recorded on the host, the cap, and whether output past it was dropped. */
  log: { bytes: number; maxBytes: number; dropped: boolean };
  /** Whether the job runs under herd's seccomp filter, and why not (absent from older hosts). */
  seccomp?: { loaded: boolean; problem?: string };
  /**
   * Whether the kernel enforces herd's device allow list in the job's cgroup (`how`: cgroup v1's
   * devices controller or a cgroup v2 eBPF program), and why not (absent from older hosts).
   */
  devices?: { enforced: boolean; how?: 'cgroup v1' | 'cgroup v2 eBPF'; problem?: string };
}

export interface JobListRequest { t: 'job-list'; state?: JobState }
/** id: a job id or a unique prefix of one. */
export interface JobStatusRequest { t: 'job-status'; id: string }
export interface JobWaitRequest { t: 'job-wait'; id: string }
export interface JobStopRequest { t: 'job-stop'; id: string; graceMs: number }
export interface JobDeleteRequest { t: 'job-delete'; id: string }
/** Deletes finished jobs that ended at least olderThanMs ago (all finished jobs without it). */
export interface JobPruneRequest { t: 'job-prune'; olderThanMs?: number }
/**
 * A job's recorded output: a `jobs` answer naming the job, then its output as data frames
 * (each preceded by `log-at` when timestamps were asked for; herd's own notes as `log-note`),
 * then a last `jobs` answer with its state. fromByte skips that many bytes of the selected
 * output; tail starts at the last N lines.
 */
export interface JobLogsRequest {
  t: 'job-logs';
  id: string;
  follow: boolean;
  stdout: boolean;
  stderr: boolean;
  timestamps: boolean;
  tail?: number;
  fromByte?: number;
}
export interface Jobs { t: 'jobs'; jobs: JobInfo[] }
export interface LogAt { t: 'log-at'; ms: number }
export interface LogNote { t: 'log-note'; text: string }

export type JobRequest = JobListRequest | JobStatusRequest | JobWaitRequest | JobStopRequest | JobDeleteRequest | JobPruneRequest | JobLogsRequest;
export type JobsMessage = JobRequest | Jobs | LogAt | LogNote;

function checkJobInfo(value: unknown): void {
  if (typeof value !== 'object' || value === null) fail('jobs.jobs[] must be objects');
  const j = value as Shape;
  str(j, 'id');
  stringArray(j, 'argv', MAX_ARGV);
  if (!(JOB_STATES as readonly unknown[]).includes(j.state)) fail('jobs.jobs[].state');
  nullableStr(j, 'reason');
  str(j, 'owner');
  str(j, 'ownerCa', true);
  str(j, 'createdAt');
  for (const key of ['oomKilled', 'timedOut']) bool(j, key);
  if (j.exitCode !== null && !Number.isSafeInteger(j.exitCode)) fail('jobs.jobs[].exitCode');
  if (typeof j.log !== 'object' || j.log === null) fail('jobs.jobs[].log');
}

const byId = (o: Shape): void => str(o, 'id');

export const JOBS_VALIDATORS: Validators<JobsMessage> = {
  'job-list': (o) => oneOf(o, 'state', JOB_STATES, true),
  'job-status': byId,
  'job-wait': byId,
  'job-delete': byId,
  'job-stop'(o) {
    str(o, 'id');
    count(o, 'graceMs');
  },
  'job-prune': (o) => count(o, 'olderThanMs', true),
  'job-logs'(o) {
    str(o, 'id');
    for (const key of ['follow', 'stdout', 'stderr', 'timestamps']) bool(o, key);
    count(o, 'tail', true);
    count(o, 'fromByte', true);
  },
  jobs(o) {
    if (!Array.isArray(o.jobs) || o.jobs.length > 100_000) fail('jobs.jobs');
    for (const job of o.jobs as unknown[]) checkJobInfo(job);
  },
  'log-at'(o) {
    if (typeof o.ms !== 'number') fail('log-at.ms');
  },
  'log-note': (o) => str(o, 'text'),
};
