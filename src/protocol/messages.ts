import { HerdError } from './errors.ts';
import { MAX_ARGV, MAX_ENV } from './limits.ts';

export const ROLES = ['admin', 'user', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const JOB_SIGNALS = ['TERM', 'KILL', 'INT', 'HUP'] as const;
export type JobSignal = (typeof JOB_SIGNALS)[number];

/** Session stream 0: the handshake (see handshake.ts). The host speaks first. */
export interface HostHello {
  t: 'hello';
  /** Protocol versions the host speaks. */
  versions: number[];
  nonce: string;
  hostKey: string;
  hostCert: string | null;
  /** Key id of the CA this host trusts, or null before the first admin enrolled it. */
  trustedCa: string | null;
}
export interface Auth {
  t: 'auth';
  /** The version the client chose from the host's list. */
  version: number;
  nonce: string;
  cert: string;
  sig: string;
  /** The CA public key, sent so a host that trusts no CA yet can pin it. */
  caKey?: string;
  /** A certificate for the host key, signed by the client's CA. */
  hostCert?: string;
}
export interface Welcome {
  t: 'welcome';
  /** The host key's signature over the proof bytes: the host is live and holds its key. */
  sig: string;
  subject: string;
  role: Role;
  hostId: string;
  /** The agent's unix socket on the host, so a later connection can reach it directly. */
  socket: string;
  /** The sha256 of the helper the agent runs. */
  agentVersion: string;
}

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
}
export interface Started { t: 'started'; jobId: string }
export interface SignalRequest { t: 'signal'; signal: JobSignal }

/** What a user asks for when creating a network. */
export interface NetworkRequest {
  name: string;
  cidr: string;
  gateway?: string;
  range?: { start: string; end: string };
  dns?: string[];
}
/** A network as the host reports it. */
export interface NetworkInfo {
  name: string;
  cidr: string;
  gateway: string;
  range: { start: string; end: string };
  dns: string[];
  bridge: string;
  isolated: boolean;
  builtin: boolean;
  jobs: number;
}
export interface NetworkCreate { t: 'network-create'; network: NetworkRequest }
export interface NetworkList { t: 'network-list' }
export interface NetworkRemove { t: 'network-remove'; name: string }
export interface Networks { t: 'networks'; networks: NetworkInfo[] }
export interface Done { t: 'done' }

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
  hostname: string;
  network: string;
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
/** A request-level failure; the session stays up. */
export interface StreamError { t: 'error'; code: string; message: string; hint?: string }

export type Message =
  | NetworkCreate | NetworkList | NetworkRemove | Networks | Done | HostHello | Auth | Welcome | RunRequest | Started | SignalRequest | Exit | StreamError
  | JobRequest | Jobs | LogAt | LogNote;

type Shape = Record<string, unknown>;

function fail(what: string): never {
  throw new HerdError('PROTOCOL', `malformed message: ${what}`);
}
function str(o: Shape, key: string, optional = false): void {
  if (optional && o[key] === undefined) return;
  if (typeof o[key] !== 'string') fail(`${String(o.t)}.${key} must be a string`);
}
function nullableStr(o: Shape, key: string): void {
  if (o[key] !== null && typeof o[key] !== 'string') fail(`${String(o.t)}.${key} must be a string or null`);
}
function int(o: Shape, key: string): void {
  if (!Number.isSafeInteger(o[key])) fail(`${String(o.t)}.${key} must be an integer`);
}
function stringArray(o: Shape, key: string, max: number): void {
  const value = o[key];
  if (!Array.isArray(value) || value.length > max || !value.every((v) => typeof v === 'string')) {
    fail(`${String(o.t)}.${key} must be a list of at most ${max} strings`);
  }
}

function positive(o: Shape, key: string, optional = false): void {
  if (optional && o[key] === undefined) return;
  if (!(Number.isSafeInteger(o[key]) && (o[key] as number) > 0)) fail(`${String(o.t)}.${key} must be a positive integer`);
}
function bool(o: Shape, key: string): void {
  if (typeof o[key] !== 'boolean') fail(`${String(o.t)}.${key} must be true or false`);
}

function checkLimits(value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('run.limits must be an object');
  const limits = value as Shape;
  for (const key of ['cpuPercent', 'memoryBytes', 'pids', 'readBps', 'writeBps']) {
    const v = limits[key];
    if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) > 0)) fail(`run.limits.${key} must be a positive integer`);
  }
  if (limits.cpuCores !== undefined && (typeof limits.cpuCores !== 'string' || limits.cpuCores.length > 256)) fail('run.limits.cpuCores must be a string');
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

function checkJobInfo(value: unknown): void {
  if (typeof value !== 'object' || value === null) fail('jobs.jobs[] must be objects');
  const j = value as Shape;
  str(j, 'id');
  stringArray(j, 'argv', MAX_ARGV);
  if (!(JOB_STATES as readonly unknown[]).includes(j.state)) fail('jobs.jobs[].state');
  nullableStr(j, 'reason');
  str(j, 'owner');
  str(j, 'createdAt');
  for (const key of ['oomKilled', 'timedOut']) bool(j, key);
  if (j.exitCode !== null && !Number.isSafeInteger(j.exitCode)) fail('jobs.jobs[].exitCode');
  if (typeof j.log !== 'object' || j.log === null) fail('jobs.jobs[].log');
}

/** Validates a decoded JSON value into a Message; anything else is a PROTOCOL error. */
export function parseMessage(value: unknown): Message {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('not an object');
  const o = value as Shape;
  switch (o.t) {
    case 'hello':
      str(o, 'nonce');
      if (!Array.isArray(o.versions) || o.versions.length > 16 || !o.versions.every(Number.isSafeInteger)) fail('hello.versions');
      str(o, 'hostKey');
      nullableStr(o, 'hostCert');
      nullableStr(o, 'trustedCa');
      break;
    case 'auth':
      int(o, 'version');
      str(o, 'nonce');
      str(o, 'cert');
      str(o, 'sig');
      str(o, 'caKey', true);
      str(o, 'hostCert', true);
      break;
    case 'welcome':
      str(o, 'sig');
      str(o, 'subject');
      str(o, 'hostId');
      str(o, 'socket');
      str(o, 'agentVersion');
      if (!(ROLES as readonly unknown[]).includes(o.role)) fail('welcome.role');
      break;
    case 'run': {
      stringArray(o, 'argv', MAX_ARGV);
      if ((o.argv as string[]).length === 0) fail('run.argv is empty');
      const env = o.env;
      if (typeof env !== 'object' || env === null || Array.isArray(env)) fail('run.env must be an object');
      const entries = Object.entries(env as Shape);
      if (entries.length > MAX_ENV || !entries.every(([, v]) => typeof v === 'string')) fail('run.env values must be strings');
      str(o, 'workdir', true);
      if (o.limits !== undefined) checkLimits(o.limits);
      str(o, 'network', true);
      str(o, 'name', true);
      str(o, 'ip', true);
      for (const key of ['maxBandwidthBps', 'timeoutMs', 'maxLogBytes']) positive(o, key, true);
      if (o.graceMs !== undefined && !(Number.isSafeInteger(o.graceMs) && (o.graceMs as number) >= 0)) fail('run.graceMs');
      if (o.detach !== undefined && typeof o.detach !== 'boolean') fail('run.detach');
      if (o.requireSeccomp !== undefined && typeof o.requireSeccomp !== 'boolean') fail('run.requireSeccomp');
      str(o, 'schedule', true);
      if (o.user !== undefined) {
        const user = o.user as Shape;
        const id = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 32 - 1;
        if (typeof user !== 'object' || user === null || !id(user.uid) || !id(user.gid)) fail('run.user must be {uid, gid}');
      }
      break;
    }
    case 'network-create': {
      const n = o.network as Shape;
      if (typeof n !== 'object' || n === null) fail('network-create.network');
      str(n, 'name');
      str(n, 'cidr');
      str(n, 'gateway', true);
      if (n.range !== undefined) {
        const r = n.range as Shape;
        if (typeof r !== 'object' || r === null || typeof r.start !== 'string' || typeof r.end !== 'string') fail('network-create.network.range');
      }
      if (n.dns !== undefined) stringArray(n, 'dns', 16);
      break;
    }
    case 'network-list':
    case 'done':
      break;
    case 'network-remove':
      str(o, 'name');
      break;
    case 'networks':
      if (!Array.isArray(o.networks) || o.networks.length > 4096) fail('networks.networks');
      break;
    case 'started':
      str(o, 'jobId');
      break;
    case 'signal':
      if (!(JOB_SIGNALS as readonly unknown[]).includes(o.signal)) fail('signal.signal');
      break;
    case 'exit':
      checkResult(o.result);
      break;
    case 'job-list':
      if (o.state !== undefined && !(JOB_STATES as readonly unknown[]).includes(o.state)) fail('job-list.state');
      break;
    case 'job-status':
    case 'job-wait':
    case 'job-delete':
      str(o, 'id');
      break;
    case 'job-stop':
      str(o, 'id');
      if (!(Number.isSafeInteger(o.graceMs) && (o.graceMs as number) >= 0)) fail('job-stop.graceMs');
      break;
    case 'job-prune':
      if (o.olderThanMs !== undefined && !(Number.isSafeInteger(o.olderThanMs) && (o.olderThanMs as number) >= 0)) fail('job-prune.olderThanMs');
      break;
    case 'job-logs':
      str(o, 'id');
      for (const key of ['follow', 'stdout', 'stderr', 'timestamps']) bool(o, key);
      if (o.tail !== undefined && !(Number.isSafeInteger(o.tail) && (o.tail as number) >= 0)) fail('job-logs.tail');
      if (o.fromByte !== undefined && !(Number.isSafeInteger(o.fromByte) && (o.fromByte as number) >= 0)) fail('job-logs.fromByte');
      break;
    case 'jobs':
      if (!Array.isArray(o.jobs) || o.jobs.length > 100_000) fail('jobs.jobs');
      for (const job of o.jobs as unknown[]) checkJobInfo(job);
      break;
    case 'log-at':
      if (typeof o.ms !== 'number') fail('log-at.ms');
      break;
    case 'log-note':
      str(o, 'text');
      break;
    case 'error':
      str(o, 'code');
      str(o, 'message');
      str(o, 'hint', true);
      break;
    default:
      fail(`unknown type ${JSON.stringify(o.t)}`);
  }
  return o as unknown as Message;
}
