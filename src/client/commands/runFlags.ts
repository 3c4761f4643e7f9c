import type { Argv } from 'yargs';
import { existsSync } from 'node:fs';
import { HerdError } from '../../protocol/errors.ts';
import { ISOLATIONS, type JobBind, type JobLimits, type RunRequest } from '../../protocol/messages.ts';
import { isNetworkName } from '../../protocol/networkName.ts';
import { parseCpuList } from '../../shared/cpuList.ts';
import { COLOUR_CHOICES, type ColourWhen } from '../output/colour.ts';
import type { OutputMode } from '../output/runOutput.ts';
import { parseDuration, parseWhen } from '../units/durations.ts';
import { parsePositiveInt, parseSize } from '../units/sizes.ts';
import { globalOptions, type Args, type GlobalOptions } from './types.ts';
import { parseUploadSpec, type UploadSpec } from '../data/uploadSet.ts';
import { pathInWork } from '../../shared/pathInWork.ts';

/*
 * herd run's flags: declared for yargs, read into RunOptions, and checked into a RunPlan (the
 * request every host gets, and how the run is carried out) before any host is contacted.
 */

export interface RunOptions extends GlobalOptions {
  command: string[];
  env: string[];
  workdir?: string;
  user?: string;
  limits: LimitFlags;
  network?: string;
  name?: string;
  ip?: string;
  maxBandwidth?: string;
  grace: string;
  acceptNew: boolean;
  stdin: boolean;
  parallel: number;
  connectTimeout: string;
  detach: boolean;
  gather: boolean;
  ndjson: boolean;
  outputDir?: string;
  retries: number;
  color: string;
  timeout?: string;
  schedule?: string;
  maxLogSize?: string;
  requireSeccomp: boolean;
  isolation: string;
  /** -L, --diff, -q, -N: clush's output modes. */
  byHost: boolean;
  diff: boolean;
  quiet: boolean;
  noPrefix: boolean;
  /** --dry-run/--check: show what would be done, contact nothing. */
  dryRun: boolean;
  /** --pid host; --bind HOST:JOB[:ro], as typed. */
  pid?: string;
  binds: string[];
  /** --upload SRC[:DEST] (and --upload-dir), as typed. */
  uploads: string[];
  /** --download PATH (repeatable) into --download-dir. */
  downloads: string[];
  downloadDir: string;
}

/** The limit flags as typed; parsed and checked by limitsFrom. */
export interface LimitFlags {
  maxCpu?: string;
  cpuCores?: string;
  maxMemory?: string;
  maxPids?: string;
  maxReadBps?: string;
  maxWriteBps?: string;
  maxIobps?: string;
}

export function limitsFrom(flags: LimitFlags): JobLimits {
  const limits: JobLimits = {};
  if (flags.maxCpu !== undefined) limits.cpuPercent = parsePositiveInt(flags.maxCpu, '--max-cpu');
  if (flags.cpuCores !== undefined) {
    parseCpuList(flags.cpuCores, '--cpu-cores');
    limits.cpuCores = flags.cpuCores;
  }
  if (flags.maxMemory !== undefined) limits.memoryBytes = parseSize(flags.maxMemory, '--max-memory');
  if (flags.maxPids !== undefined) limits.pids = parsePositiveInt(flags.maxPids, '--max-pids');
  // --max-iobps limits reading and writing alike; the specific flags take precedence.
  if (flags.maxIobps !== undefined) limits.readBps = limits.writeBps = parseSize(flags.maxIobps, '--max-iobps', true);
  if (flags.maxReadBps !== undefined) limits.readBps = parseSize(flags.maxReadBps, '--max-read-bps', true);
  if (flags.maxWriteBps !== undefined) limits.writeBps = parseSize(flags.maxWriteBps, '--max-write-bps', true);
  return limits;
}

/** Default number of hosts contacted at once. */
export const DEFAULT_PARALLEL = 64;

/** `--user UID[:GID]`, numeric; the group defaults to the user id. */
export function parseUser(text: string): { uid: number; gid: number } {
  const match = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(text.trim());
  const uid = Number(match?.[1]);
  const gid = match?.[2] === undefined ? uid : Number(match[2]);
  if (match === null || uid >= 2 ** 32 - 1 || gid >= 2 ** 32 - 1) {
    // Ansible's -u is the SSH user; herd's is the job's, inside its sandbox.
    const name = /^[a-z_][a-z0-9_.-]*$/i.test(text.trim());
    throw new HerdError('INVALID_SPEC', `--user: "${text}" is not UID[:GID] (numbers, e.g. 1000 or 1000:100): it is the job's user inside its sandbox`, name ? { hint: `to log in to the hosts as ${text.trim()}, use -l ${text.trim()} (Ansible's -u is herd's -l)` } : {});
  }
  return { uid, gid };
}

export function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new HerdError('INVALID_SPEC', `--env: "${pair}" is not KEY=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** `--bind HOST:JOB[:ro]` (or `:rw`, the default): host and job paths absolute, split at the first colon. */
export function parseBind(text: string): JobBind {
  let rest = text;
  let readOnly = false;
  const mode = /:(ro|rw)$/.exec(rest);
  if (mode !== null) {
    readOnly = mode[1] === 'ro';
    rest = rest.slice(0, -3);
  }
  const colon = rest.indexOf(':');
  const host = colon < 0 ? rest : rest.slice(0, colon);
  const job = colon < 0 ? rest : rest.slice(colon + 1);
  if (!host.startsWith('/') || !job.startsWith('/')) {
    throw new HerdError('INVALID_SPEC', `--bind: "${text}" is not HOST:JOB[:ro] with absolute paths (e.g. /srv/data:/work/data:ro)`);
  }
  return { host, job, readOnly };
}

/** What `herd run` does, checked: the request each host gets, and how the run is carried out. */
export interface RunPlan {
  request: Omit<RunRequest, 't'>;
  /** Answered once started (or scheduled), with no output: --detach and --schedule. */
  detach: boolean;
  graceMs: number;
  limits: JobLimits;
  output: OutputMode;
  colour: ColourWhen;
  parallel: number;
  retries: number;
  quiet: boolean;
  noPrefix: boolean;
  /** What --upload sends each host, parsed (walked when the run begins). */
  uploads: UploadSpec[];
  /** Paths in the job's /work brought back once it ends, into downloadDir (DIR/HOST with several hosts). */
  downloads: string[];
  downloadDir: string;
}

const MODE_FLAGS: Record<OutputMode, string> = { live: '', json: '--json', ndjson: '--ndjson', dir: '--output-dir', gather: '--gather', ordered: '-L', diff: '--diff' };

/** Checks every flag; `defaultNetwork` is the config's. Nothing here contacts a host. */
export function planRun(options: RunOptions, defaultNetwork: string | undefined): RunPlan {
  if (options.command.length === 0) throw new HerdError('INVALID_SPEC', 'no command given: herd run [options] -- COMMAND [ARGS...]');
  if (!Number.isInteger(options.parallel) || options.parallel < 1) throw new HerdError('INVALID_SPEC', `--parallel: "${options.parallel}" must be a whole number of at least 1`);
  const graceMs = parseDuration(options.grace, '--grace');
  const env = parseEnv(options.env);
  const user = options.user === undefined ? undefined : parseUser(options.user);
  const limits = limitsFrom(options.limits);
  const maxBandwidthBps = options.maxBandwidth === undefined ? undefined : parseSize(options.maxBandwidth, '--max-bandwidth', true);
  const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout, '--timeout');
  if (timeoutMs !== undefined && timeoutMs < 1) throw new HerdError('INVALID_SPEC', `--timeout: "${options.timeout}" must be at least 1ms`);
  const maxLogBytes = options.maxLogSize === undefined ? undefined : parseSize(options.maxLogSize, '--max-log-size');
  const schedule = options.schedule === undefined ? undefined : parseWhen(options.schedule, '--schedule');
  // A scheduled job starts when no one is attached: it is always detached.
  const detach = options.detach || schedule !== undefined;
  if (!(ISOLATIONS as readonly string[]).includes(options.isolation)) throw new HerdError('INVALID_SPEC', `--isolation: "${options.isolation}" is not one of ${ISOLATIONS.join(', ')}`);
  const hostMode = options.isolation === 'none';
  if (hostMode) checkHostMode(options);
  // Host mode is in the host's network: the config's default network is for sandboxed jobs.
  const network = hostMode ? options.network : (options.network ?? defaultNetwork);
  if (network !== undefined && !isNetworkName(network)) {
    throw new HerdError('INVALID_SPEC', `--network: "${network}" is not none, host, bridge, isolated or a network name`);
  }
  const modes = [options.json && 'json', options.ndjson && 'ndjson', options.outputDir !== undefined && 'dir', options.gather && 'gather', options.byHost && 'ordered', options.diff && 'diff'].filter(Boolean) as OutputMode[];
  if (modes.length > 1) throw new HerdError('INVALID_SPEC', `choose one output mode: ${modes.map((m) => MODE_FLAGS[m]).join(', ')} were given`);
  const mode = modes[0] ?? 'live';
  // -q and -N change how lines are shown: for the modes that show lines to a person.
  for (const [given, flag, fits] of [[options.quiet, '-q', ['live', 'gather', 'ordered']], [options.noPrefix, '-N', ['live', 'gather', 'ordered']]] as const) {
    if (given && !(fits as readonly string[]).includes(mode)) throw new HerdError('INVALID_SPEC', `${flag} does not go with ${MODE_FLAGS[mode]}: it is for the live output, -b and -L`);
  }
  if (options.pid !== undefined && options.pid !== 'host') throw new HerdError('INVALID_SPEC', `--pid: "${options.pid}" is not host (a job has a PID namespace of its own unless --pid host)`);
  const binds = options.binds.map(parseBind);
  if (!Number.isInteger(options.retries) || options.retries < 0) throw new HerdError('INVALID_SPEC', `--retries: "${options.retries}" must be a whole number, 0 or more`);
  if (!(COLOUR_CHOICES as readonly string[]).includes(options.color)) throw new HerdError('INVALID_SPEC', `--color: "${options.color}" is not one of ${COLOUR_CHOICES.join(', ')}`);
  const request: Omit<RunRequest, 't'> = {
    argv: options.command,
    env,
    ...(options.workdir === undefined ? {} : { workdir: options.workdir }),
    ...(user === undefined ? {} : { user }),
    ...(Object.keys(limits).length === 0 ? {} : { limits }),
    ...(network === undefined ? {} : { network }),
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.ip === undefined ? {} : { ip: options.ip }),
    ...(maxBandwidthBps === undefined ? {} : { maxBandwidthBps }),
    ...(timeoutMs === undefined ? {} : { timeoutMs, graceMs }),
    ...(maxLogBytes === undefined ? {} : { maxLogBytes }),
    ...(schedule === undefined ? {} : { schedule }),
    ...(detach ? { detach } : {}),
    ...(options.requireSeccomp ? { requireSeccomp: true } : {}),
    ...(hostMode ? { isolation: 'none' as const } : {}),
    ...(options.pid === 'host' ? { pid: 'host' as const } : {}),
    ...(binds.length === 0 ? {} : { binds }),
  };
  const uploads = options.uploads.map((u) => parseUploadSpec(u, existsSync));
  if (uploads.length > 0 && options.isolation === 'none') throw new HerdError('INVALID_SPEC', '--isolation none: --upload is not possible: uploads land in the job\'s /work, and host mode has none', { hint: 'copy files to hosts with herd cp' });
  if (options.downloads.length > 0 && detach) throw new HerdError('INVALID_SPEC', '--download waits for the job to end, and --detach/--schedule do not: copy its files later with herd job cp ID:PATH DIR');
  if (options.downloads.length > 0 && options.isolation === 'none') throw new HerdError('INVALID_SPEC', '--isolation none: --download is not possible: a host-mode job has no /work');
  for (const path of options.downloads) pathInWork(path);
  return { request, detach, graceMs, limits, output: mode, colour: options.color as ColourWhen, parallel: options.parallel, retries: options.retries, quiet: options.quiet, noPrefix: options.noPrefix, uploads, downloads: options.downloads, downloadDir: options.downloadDir };
}

/** Host mode gives up the sandbox: the flags that only mean something inside one are refused here, before any host. */
function checkHostMode(options: RunOptions): void {
  const refuse = (flag: string, why: string): never => {
    throw new HerdError('INVALID_SPEC', `--isolation none: ${flag} is not possible: ${why}`);
  };
  if (options.user !== undefined) refuse('--user', 'the command runs as the SSH login (log in as another user, or use sudo in the command)');
  if (options.network !== undefined && options.network !== 'host') refuse(`--network ${options.network}`, 'the command runs in the host\'s network');
  if (options.name !== undefined) refuse('--name', 'the command has the host\'s hostname');
  if (options.ip !== undefined) refuse('--ip', 'the command has the host\'s network');
  if (options.maxBandwidth !== undefined) refuse('--max-bandwidth', 'the command has the host\'s network');
  if (options.requireSeccomp) refuse('--require-seccomp', 'host mode has no seccomp filter');
  if (options.pid !== undefined) refuse('--pid', 'the command is in the host\'s PID namespace already');
  if (options.binds.length > 0) refuse('--bind', 'the command sees the host\'s files as they are');
}

/** The flags as yargs parsed them. */
export function readRunFlags(argv: Args): RunOptions {
  const positional = Array.isArray(argv.cmd) ? (argv.cmd as unknown[]).map(String) : [];
  const rest = Array.isArray(argv['--']) ? (argv['--'] as unknown[]).map(String) : [];
  return {
    ...globalOptions(argv),
    command: [...positional, ...rest],
    env: (argv.env as string[] | undefined) ?? [],
    ...(typeof argv.workdir === 'string' ? { workdir: argv.workdir } : {}),
    ...(typeof argv.user === 'string' ? { user: argv.user } : {}),
    ...(typeof argv.network === 'string' ? { network: argv.network } : {}),
    ...(typeof argv.ip === 'string' ? { ip: argv.ip } : {}),
    ...(typeof argv.name === 'string' ? { name: argv.name } : {}),
    ...(typeof argv.maxBandwidth === 'string' ? { maxBandwidth: argv.maxBandwidth } : {}),
    limits: {
      ...(argv.maxCpu === undefined ? {} : { maxCpu: String(argv.maxCpu) }),
      ...(argv.cpuCores === undefined ? {} : { cpuCores: String(argv.cpuCores) }),
      ...(argv.maxMemory === undefined ? {} : { maxMemory: String(argv.maxMemory) }),
      ...(argv.maxPids === undefined ? {} : { maxPids: String(argv.maxPids) }),
      ...(argv.maxReadBps === undefined ? {} : { maxReadBps: String(argv.maxReadBps) }),
      ...(argv.maxWriteBps === undefined ? {} : { maxWriteBps: String(argv.maxWriteBps) }),
      ...(argv.maxIobps === undefined ? {} : { maxIobps: String(argv.maxIobps) }),
    },
    grace: String(argv.grace),
    acceptNew: argv.acceptNew === true,
    stdin: argv.stdin !== false,
    parallel: Number(argv.parallel),
    connectTimeout: String(argv.connectTimeout),
    detach: argv.detach === true,
    ...(typeof argv.timeout === 'string' ? { timeout: argv.timeout } : {}),
    ...(typeof argv.schedule === 'string' ? { schedule: argv.schedule } : {}),
    ...(typeof argv.maxLogSize === 'string' ? { maxLogSize: argv.maxLogSize } : {}),
    gather: argv.gather === true,
    ndjson: argv.ndjson === true,
    ...(typeof argv.outputDir === 'string' ? { outputDir: argv.outputDir } : {}),
    retries: Number(argv.retries ?? 0),
    requireSeccomp: argv.requireSeccomp === true,
    isolation: typeof argv.isolation === 'string' ? argv.isolation : 'sandbox',
    byHost: argv.L === true,
    diff: argv.diff === true,
    quiet: argv.quiet === true,
    noPrefix: argv.N === true,
    dryRun: argv.dryRun === true,
    ...(typeof argv.pid === 'string' ? { pid: argv.pid } : {}),
    binds: ((argv.bind as unknown[] | undefined) ?? []).map(String),
    downloads: ((argv.download as unknown[] | undefined) ?? []).map(String),
    downloadDir: typeof argv.downloadDir === 'string' ? argv.downloadDir : '.',
    uploads: [...((argv.upload as unknown[] | undefined) ?? []), ...((argv.uploadDir as unknown[] | undefined) ?? [])].map(String),
    color: typeof argv.color === 'string' ? argv.color : 'auto',
  };
}

/** herd run's flags, help and examples. */
export function runFlags(y: Argv): Argv {
  return y
      .usage('$0 run [options] -- COMMAND [ARGS...]\n\nRun COMMAND in an isolated job on each host (the local machine by default) and stream its output.')
      .positional('cmd', { describe: 'the command and its arguments (put them after --)', type: 'string', array: true })
      .option('env', { alias: 'e', type: 'string', array: true, default: [], describe: 'set an environment variable in the job (KEY=VALUE; repeatable)' })
      .option('workdir', { alias: 'w', type: 'string', describe: 'working directory inside the job (default: /work, private to the job)' })
      .option('user', { alias: 'u', type: 'string', describe: 'run the command as UID[:GID] inside its sandbox (numeric; needs root on the host). Not the SSH user: that is -l/--login' })
      .option('max-cpu', { type: 'string', describe: 'CPU limit in percent of one core (50 = half a core, 250 = two and a half)', group: 'Limits:' })
      .option('cpu-cores', { type: 'string', describe: 'CPUs the job may run on, e.g. 0-1,3', group: 'Limits:' })
      .option('max-memory', { type: 'string', describe: 'memory limit, e.g. 512M, 2G (no swap beyond it); over it the job is OOM-killed', group: 'Limits:' })
      .option('max-pids', { type: 'string', describe: 'most processes and threads the job may have at once', group: 'Limits:' })
      .option('max-read-bps', { type: 'string', describe: 'read rate limit on the disk behind /work, e.g. 10M', group: 'Limits:' })
      .option('max-write-bps', { type: 'string', describe: 'write rate limit on the disk behind /work, e.g. 5M', group: 'Limits:' })
      .option('max-iobps', { type: 'string', describe: 'read and write rate limit (each), e.g. 20M', group: 'Limits:' })
      .option('network', { alias: 'n', type: 'string', describe: 'bridge (default as root), isolated, none (loopback only), host (not isolated), or a network made with herd network create', group: 'Network:' })
      .option('name', { type: 'string', describe: 'the job\'s name: its hostname, and how other jobs of its network reach it (/etc/hosts)', group: 'Network:' })
      .option('ip', { type: 'string', describe: 'a fixed address in the job\'s network', group: 'Network:' })
      .option('max-bandwidth', { type: 'string', describe: 'limit the job\'s traffic, each way, e.g. 10M (bytes per second)', group: 'Network:' })
      .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'start the job, print its id and return; it runs on (see herd job logs, status, wait)', group: 'Jobs:' })
      .option('timeout', { type: 'string', describe: 'stop the job after this long (e.g. 30s, 2h); it ends FAILED, exit status 124', group: 'Jobs:' })
      .option('schedule', { type: 'string', describe: 'start the job later: +10m, or a time like 2026-12-01T03:00:00Z (implies --detach)', group: 'Jobs:' })
      .option('max-log-size', { type: 'string', describe: 'output kept on the host for herd job logs (default 64M); past it output still streams but is not kept', group: 'Jobs:' })
      .option('isolation', {
        type: 'string',
        default: 'sandbox',
        choices: ['sandbox', 'none'],
        describe: 'none: run the command on the host itself, as the SSH login, in its namespaces (admin certificate; audited); limits, the job record and log, --detach and --timeout still apply',
        group: 'Isolation:',
      })
      .option('pid', { type: 'string', choices: ['host'], describe: 'host: the job shares the host\'s PID namespace and sees its processes (ps aux), though it cannot signal them (admin certificate)', group: 'Isolation:' })
      .option('bind', { type: 'string', array: true, default: [], describe: 'bind a host path into the job: HOST:JOB[:ro], repeatable; JOB new under /work, /tmp or /run, or existing on the host (admin certificate)', group: 'Isolation:' })
      .option('upload', { type: 'string', array: true, default: [], describe: 'send a local file or directory into the job\'s /work before it starts: SRC[:DEST], repeatable; DEST under /work (default: SRC\'s name). Modes and symlinks kept; a host that has a file already is sent only its hash', group: 'Data:' })
      .option('upload-dir', { type: 'string', array: true, default: [], describe: 'the same as --upload (Joblet\'s name for a directory)', group: 'Data:', hidden: true })
      .option('download', { type: 'string', array: true, default: [], describe: 'once the job ends, copy PATH from its /work here (into --download-dir; DIR/HOST/ with several hosts); repeatable', group: 'Data:' })
      .option('download-dir', { type: 'string', default: '.', describe: 'where --download puts what it brings back', group: 'Data:' })
      .option('require-seccomp', { type: 'boolean', default: false, describe: 'refuse to run where the host cannot load herd\'s seccomp filter (see herd job status)', group: 'Isolation:' })
      .option('gather', { alias: 'b', type: 'boolean', default: false, describe: 'wait, then print each distinct output once with the hosts that produced it', group: 'Output:' })
      .option('L', { type: 'boolean', default: false, describe: 'wait, then print all of one host\'s lines, then the next host\'s, hosts in name order (clush -L)', group: 'Output:' })
      .option('diff', { type: 'boolean', default: false, describe: 'wait, then show each host\'s stdout as a unified diff against the most common one (clush --diff)', group: 'Output:' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'show only the output of hosts whose job failed (with the live output, -b and -L)', group: 'Output:' })
      .option('N', { type: 'boolean', default: false, describe: 'no host labels on lines (and no -b headers) (clush -N)', group: 'Output:' })
      .option('output-dir', { type: 'string', describe: 'write each host\'s output to DIR/HOST.stdout and DIR/HOST.stderr', group: 'Output:' })
      .option('ndjson', { type: 'boolean', default: false, describe: 'a stream of JSON events, one per line: started, output, exit, error, summary', group: 'Output:' })
      .option('dry-run', { alias: 'check', type: 'boolean', default: false, describe: 'show the job each host would get and how each is reached, then stop: no host is contacted (Ansible\'s --check)' })
      .option('retries', { type: 'number', default: 0, describe: 'try connecting again this many times when a host cannot be reached' })
      .option('color', { type: 'string', default: 'auto', choices: ['auto', 'always', 'never'], describe: 'colour host names: auto (on a terminal, unless NO_COLOR is set), always, never' })
      .option('grace', { type: 'string', default: '10s', describe: 'after Ctrl-C or --timeout, time between SIGTERM and SIGKILL' })
      .option('accept-new', { type: 'boolean', default: false, describe: 'record the host key of hosts not yet in known_hosts (never a changed key)' })
      .option('stdin', { type: 'boolean', default: true, describe: 'forward local stdin to the job(s); --no-stdin gives them an empty stdin' })
      .option('parallel', { alias: 'f', type: 'number', default: DEFAULT_PARALLEL, describe: 'hosts contacted at once (clush -f; the one short flag with another meaning elsewhere: job logs -f follows)' })
      .option('connect-timeout', { type: 'string', default: '15s', describe: 'give up connecting to a host after this long' })
      .example('$0 run -- uname -a', 'run locally, isolated')
      .example('$0 run -H web1,web2 -- df -h /', 'run on two hosts from the config')
      .example('$0 run -H root@10.0.0.5:2222 --accept-new -- hostname', 'first contact with a new host')
      .example('$0 run --json -H web1,web2 -- uptime', 'one JSON document with each host\'s result')
      .example('$0 run -H web1 --detach --timeout 2h -- ./backup.sh', 'a job that outlives this command')
      .example('$0 run -H \'gpu[1-4]\' --upload train.py --download model.pth -- python3 train.py', 'and bring ./gpu1/model.pth ... back')
      .example('$0 run -H @gpu --upload ./train.py --upload ./data:inputs -- python3 train.py inputs', 'send a script and a dataset to each host\'s job')
      .example('$0 run -H web1 --schedule +30m -- ./report.sh', 'start it in half an hour')
      .example('$0 run -H @web --isolation none -- systemctl restart nginx', 'change the hosts themselves (host mode, admin)')
      .example('$0 run -H "web*" --max-memory 1G --dry-run -- ./job.sh', 'which hosts, which limits: nothing runs')
      .epilog(
        'Exit status: the job\'s (the largest over several hosts); 128+n when killed by signal n; 127 when the command is not found; 124 when --timeout stopped it; 130 after Ctrl-C; 2 for a usage error; 255 when herd itself failed for a host (the error line names the code). A dropped connection leaves the job running and says how to follow it.',
      );
}
