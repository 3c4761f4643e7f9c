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
/** A request-level failure; the session stays up. */
export interface StreamError { t: 'error'; code: string; message: string; hint?: string }

export type Message = NetworkCreate | NetworkList | NetworkRemove | Networks | Done | HostHello | Auth | Welcome | RunRequest | Started | SignalRequest | Exit | StreamError;

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
      if (o.maxBandwidthBps !== undefined && !(Number.isSafeInteger(o.maxBandwidthBps) && (o.maxBandwidthBps as number) > 0)) fail('run.maxBandwidthBps');
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
