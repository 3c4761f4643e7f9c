import { MAX_ARGV, MAX_ENV } from '../limits.ts';
import { bool, count, fail, isObject, nullableStr, oneOf, positive, str, stringArray, type Shape, type Validators } from './check.ts';

export const JOB_SIGNALS = ['TERM', 'KILL', 'INT', 'HUP'] as const;
/** sandbox: namespaces, a read-only root, a network of its own; none: the command runs on the host itself, as the agent's user (admin only). */
export const ISOLATIONS = ['sandbox', 'none'] as const;
export type Isolation = (typeof ISOLATIONS)[number];
export type JobSignal = (typeof JOB_SIGNALS)[number];

/** A host path bound into a sandboxed job (--bind HOST:JOB[:ro], admin only). */
export interface JobBind {
  host: string;
  job: string;
  readOnly: boolean;
}
/** Binds one job may have. */
export const MAX_BINDS = 32;

/** Resource limits of a job; each is enforced by the host's cgroups or the job does not start. */
export interface JobLimits {
  /** Percent of one CPU: 50 is half a core, 250 two and a half. */
  cpuPercent?: number;
  /** cpuset list, e.g. "0-1,3". */
  cpuCores?: string;
  memoryBytes?: number;
  pids?: number;
  readBps?: number;
  writeBps?: number;
}

export interface RunRequest {
  t: 'run';
  argv: string[];
  env: Record<string, string>;
  /** Working directory inside the job (default /work). */
  workdir?: string;
  /** Run the command as this user and group (default: root, or the agent's user). */
  user?: { uid: number; gid: number };
  limits?: JobLimits;
  /** none, host, or a network's name (bridge, isolated, or one made with herd network create). */
  network?: string;
  /** The job's name: its hostname, and how other jobs of its network reach it. */
  name?: string;
  /** A fixed address in the network. */
  ip?: string;
  /** Traffic limit of the job's interface, each way, in bytes per second. */
  maxBandwidthBps?: number;
  /** Answer once the job has started (or is scheduled) and leave it running: no output, no exit. */
  detach?: boolean;
  /** Stop the job after this long: SIGTERM, then SIGKILL after graceMs; it ends FAILED, timedOut. */
  timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL when the job is stopped for its timeout. */
  graceMs?: number;
  /** Bytes of output kept in the job's log on the host. */
  maxLogBytes?: number;
  /** Start at this time (ISO 8601, the host's clock) instead of now; implies detach. */
  schedule?: string;
  /** Refuse to start where the host cannot load herd's seccomp filter (ISOLATION_UNSUPPORTED). */
  requireSeccomp?: boolean;
  /** none: host mode, no sandbox at all (default sandbox). */
  isolation?: Isolation;
  /** host: the job shares the host's PID namespace (sees its processes; admin only). */
  pid?: 'host';
  /** Host paths bound into the job (admin only). */
  binds?: JobBind[];
  /** An upload this connection staged (`staged.stage`): its tree lands in the job's /work before the command starts. */
  stage?: string;
}
export interface Started { t: 'started'; jobId: string }
/** Sent on a running job's own stream. */
export interface SignalRequest { t: 'signal'; signal: JobSignal }

/** The outcome of a job, as data. Rendering happens only in the CLI. */
export interface JobResult {
  jobId: string;
  exitCode: number | null;
  signal: string | null;
  oomKilled: boolean;
  timedOut: boolean;
  stopped: boolean;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /** Milliseconds spent in each phase on the host: setup (namespaces, mounts), attach (cgroup), run. */
  phases?: Record<string, number>;
  /** What the job used, from its cgroup (absent where the host has no cgroup for it). */
  usage?: JobUsage;
}

export interface JobUsage {
  cpuMs?: number;
  peakMemoryBytes?: number;
  readBytes?: number;
  writeBytes?: number;
}
export interface Exit { t: 'exit'; result: JobResult }

export type RunMessage = RunRequest | Started | SignalRequest | Exit;

function checkLimits(value: unknown): void {
  if (!isObject(value)) fail('run.limits must be an object');
  for (const key of ['cpuPercent', 'memoryBytes', 'pids', 'readBps', 'writeBps']) {
    const v = value[key];
    if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) > 0)) fail(`run.limits.${key} must be a positive integer`);
  }
  if (value.cpuCores !== undefined && (typeof value.cpuCores !== 'string' || value.cpuCores.length > 256)) fail('run.limits.cpuCores must be a string');
}

function checkResult(value: unknown): void {
  if (typeof value !== 'object' || value === null) fail('exit.result must be an object');
  const r = value as Shape;
  str(r, 'jobId');
  if (r.exitCode !== null && !Number.isSafeInteger(r.exitCode)) fail('exit.result.exitCode');
  nullableStr(r, 'signal');
  for (const key of ['oomKilled', 'timedOut', 'stopped']) if (typeof r[key] !== 'boolean') fail(`exit.result.${key}`);
  str(r, 'startedAt');
  str(r, 'endedAt');
  if (typeof r.durationMs !== 'number') fail('exit.result.durationMs');
}

const isId = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 32 - 1;

export const RUN_VALIDATORS: Validators<RunMessage> = {
  run(o) {
    stringArray(o, 'argv', MAX_ARGV);
    if ((o.argv as string[]).length === 0) fail('run.argv is empty');
    if (!isObject(o.env)) fail('run.env must be an object');
    const entries = Object.entries(o.env);
    if (entries.length > MAX_ENV || !entries.every(([, v]) => typeof v === 'string')) fail('run.env values must be strings');
    str(o, 'workdir', true);
    if (o.limits !== undefined) checkLimits(o.limits);
    str(o, 'network', true);
    str(o, 'name', true);
    str(o, 'ip', true);
    for (const key of ['maxBandwidthBps', 'timeoutMs', 'maxLogBytes']) positive(o, key, true);
    count(o, 'graceMs', true);
    bool(o, 'detach', true);
    bool(o, 'requireSeccomp', true);
    str(o, 'schedule', true);
    str(o, 'stage', true);
    oneOf(o, 'isolation', ISOLATIONS, true);
    oneOf(o, 'pid', ['host'], true);
    if (o.binds !== undefined) {
      if (!Array.isArray(o.binds) || o.binds.length > MAX_BINDS) fail(`run.binds must be a list of at most ${MAX_BINDS}`);
      for (const bind of o.binds as unknown[]) {
        if (!isObject(bind)) fail('run.binds[] must be {host, job, readOnly}');
        str(bind, 'host');
        str(bind, 'job');
        bool(bind, 'readOnly');
        if ((bind.host as string).length > 4096 || (bind.job as string).length > 4096) fail('run.binds[]: a path is over 4096 characters');
      }
    }
    if (o.user !== undefined) {
      const user = o.user as Shape;
      if (typeof user !== 'object' || user === null || !isId(user.uid) || !isId(user.gid)) fail('run.user must be {uid, gid}');
    }
  },
  started(o) {
    str(o, 'jobId');
  },
  signal(o) {
    oneOf(o, 'signal', JOB_SIGNALS);
  },
  exit(o) {
    checkResult(o.result);
  },
};
