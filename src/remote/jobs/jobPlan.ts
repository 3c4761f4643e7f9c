import { HerdError } from '../../protocol/errors.ts';
import type { Isolation, RunRequest } from '../../protocol/messages.ts';
import { JOB_IDS, type IdRange } from '../sandbox/idmap.ts';
import { SECCOMP_IN_JOB, type SeccompSupport } from '../sandbox/seccomp/install.ts';
import { SETUP_FAILED_STATUS } from '../sandbox/initControl.ts';
import { ENV_SCRIPT, ENV_NAME as ENV_NAME_ARG, INIT_NAME, INIT_SCRIPT, USERNS_NAME, USERNS_SCRIPT } from '../sandbox/init.ts';
import type { MountEntry } from '../system/mountinfo.ts';
import { shellQuote } from '../../shared/shellQuote.ts';
import { DEFAULT_TMP_BYTES, planSandbox, type HiddenPath, type RootEntry, type SandboxPlan } from '../sandbox/sandboxPlan.ts';
import type { PlannedBind } from '../sandbox/binds.ts';
import type { HostTools } from '../system/hostTools.ts';
import { HOST_PATH } from '../system/hostPath.ts';

/** A job's PATH unless -e sets one: the usual one of a Debian host, the same the agent finds tools on. */
export const DEFAULT_PATH = HOST_PATH;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Names ENV_SCRIPT uses for itself while it reads the environment; no -e may take them. */
const RESERVED_ENV = /^__herd_/;
/** The only environment of everything herd runs as host root for a job (launcher, unshare, init, setpriv). */
export const SETUP_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

export type Namespace = 'pid' | 'mount' | 'uts' | 'ipc' | 'net';

/**
 * The capability bounding set a job keeps: Docker's default set without net_raw and mknod. They
 * are capabilities in the job's own user namespace, which owns nothing of the host: they reach the
 * files and processes of the job's own users only. Dropped, among others: sys_admin (mount),
 * sys_module, sys_rawio, sys_ptrace, net_admin, net_raw, mknod, sys_boot, sys_time, sys_resource,
 * syslog, bpf, perfmon. no_new_privs is always set, so setuid binaries cannot raise anything back.
 */
export const KEPT_CAPABILITIES = [
  'chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap',
  'net_bind_service', 'sys_chroot', 'audit_write', 'setfcap',
] as const;

/**
 * How the job's users relate to the host's.
 * - mapped (a root agent): host root sets the job up (mounts, hostname, network, cgroup), then the
 *   command enters a user namespace of its own in which ids 0..count-1 are host ids base..; job
 *   root is a host uid that owns nothing, and every namespace but its own belongs to the host.
 * - rootless (an agent without root): the whole job is in a user namespace in which the agent's own
 *   user is root; it cannot be more than that user.
 * - host (--isolation none): no namespace at all; the command is the agent's user on the host.
 */
export type JobUsers = { kind: 'mapped'; ids: IdRange } | { kind: 'rootless' } | { kind: 'host' };

/** A job request turned into data: validated, printable and testable before anything touches the kernel. */
export interface JobPlan {
  jobId: string;
  /** The command as the user gave it; argv[0] is resolved on the host's PATH. */
  argv: string[];
  env: Record<string, string>;
  /** Working directory inside the job. */
  workdir: string;
  hostname: string;
  namespaces: Namespace[];
  users: JobUsers;
  /** --user, as ids inside the job (0:0 when null). */
  user: { uid: number; gid: number } | null;
  /** host: the host's network namespace; none: loopback only; else the network's name. */
  network: string;
  /** sandbox: everything above; none: host mode (no namespaces, no sandbox, the agent's user). */
  isolation: Isolation;
  /** The job's root and mounts; null in host mode. */
  sandbox: SandboxPlan | null;
  /** Whether the command runs under herd's seccomp filter (through SECCOMP_IN_JOB), and why not. */
  seccomp: { loaded: boolean; problem?: string };
}

export interface PlanContext {
  jobId: string;
  isRoot: boolean;
  /** The host ids job users map to (root agents; JOB_IDS unless a test says otherwise). */
  ids?: IdRange;
  jobDir: string;
  stateDir: string;
  rootEntries: readonly RootEntry[];
  mounts: readonly MountEntry[];
  /** The hosts file of the job's network, if it joins one. */
  etcHosts?: string;
  /** The network's resolv.conf, when it has its own name servers. */
  etcResolv?: string;
  /** The host's /etc files a job may cover (see SandboxContext). */
  etcFiles: ReadonlySet<string>;
  /** The host's seccomp loader, or why there is none (see seccomp/install.ts). */
  seccomp?: SeccompSupport;
  /** What of the host is covered up in jobs, and the host's /proc names (see SandboxContext). */
  hidden?: readonly HiddenPath[];
  procEntries?: ReadonlySet<string>;
  /** The host's resolv.conf symlink into /run, with the content the job's copy gets. */
  resolvLink?: { target: string; content: string };
  /** The agent's user on the host: who a host-mode command is, where it starts. */
  hostUser?: { name: string; home: string; hostname: string };
  /** --bind, checked on this host (sandbox/binds.ts). */
  binds?: readonly PlannedBind[];
}

/** The network a job joins: the host's in host mode, what it asked for, else bridge on a root agent and none on a rootless one. */
export function jobNetwork(request: RunRequest, isRoot: boolean): string {
  if (request.isolation === 'none') return 'host';
  return request.network ?? (isRoot ? 'bridge' : 'none');
}

export function planJob(request: RunRequest, context: PlanContext): JobPlan {
  for (const name of Object.keys(request.env)) {
    if (!ENV_NAME.test(name)) throw new HerdError('INVALID_SPEC', `--env: "${name}" is not a valid variable name`);
    if (RESERVED_ENV.test(name)) throw new HerdError('INVALID_SPEC', `--env: names beginning with __herd_ are herd's own ("${name}")`);
  }
  if (request.argv[0] === '') throw new HerdError('INVALID_SPEC', 'the command is empty');
  if (request.isolation === 'none') return planHostJob(request, context);
  const workdir = request.workdir ?? '/work';
  if (!workdir.startsWith('/')) throw new HerdError('INVALID_SPEC', `--workdir: "${workdir}" must be an absolute path`);
  let user: JobPlan['user'] = null;
  if (request.user !== undefined) {
    const { uid, gid } = request.user;
    if (!context.isRoot && (uid !== 0 || gid !== 0)) {
      throw new HerdError('INVALID_SPEC', `--user ${uid}:${gid}: jobs of a non-root agent run as that user; --user needs herd to reach the host as root`);
    }
    if (uid >= JOB_IDS.count || gid >= JOB_IDS.count) {
      throw new HerdError('INVALID_SPEC', `--user ${uid}:${gid}: job users and groups are 0-${JOB_IDS.count - 1}`);
    }
    user = { uid, gid };
  }
  if (request.name !== undefined && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(request.name)) {
    throw new HerdError('INVALID_SPEC', `--name: "${request.name}" must be 1-63 characters of a-z, 0-9 and -, starting with a letter or digit`);
  }
  const hostname = request.name ?? context.jobId;
  // Root agents put jobs on the bridge network by default; a rootless one cannot make interfaces.
  const network = jobNetwork(request, context.isRoot);
  if (!context.isRoot && network !== 'none' && network !== 'host') {
    throw new HerdError('NETWORK', `--network ${network}: job networks need herd to reach the host as root; use --network none or host`);
  }
  if (request.ip !== undefined && (network === 'none' || network === 'host')) {
    throw new HerdError('INVALID_SPEC', `--ip ${request.ip}: a fixed address needs a network, not --network ${network}`);
  }
  // The environment starts empty: nothing of the helper's (or herd's control data) leaks into the job.
  const env: Record<string, string> = {
    PATH: DEFAULT_PATH,
    HOME: user === null || user.uid === 0 ? '/root' : '/work',
    HOSTNAME: hostname,
    ...request.env,
  };
  const seccomp = context.seccomp ?? { problem: 'the agent did not look for seccomp support' };
  if (request.requireSeccomp === true && 'problem' in seccomp) {
    throw new HerdError('ISOLATION_UNSUPPORTED', `--require-seccomp: ${seccomp.problem}`, { hint: 'run it without --require-seccomp, or on an x86_64 host with seccomp' });
  }
  const users: JobUsers = context.isRoot ? { kind: 'mapped', ids: context.ids ?? JOB_IDS } : { kind: 'rootless' };
  return {
    jobId: context.jobId,
    argv: [...request.argv],
    env,
    workdir,
    hostname,
    // --pid host: the host's PID namespace (the init is then not PID 1, and the job's end is its cgroup's).
    namespaces: [...(request.pid === 'host' ? [] : (['pid'] as const)), 'mount', 'uts', 'ipc', ...(network === 'host' ? [] : (['net'] as const))],
    isolation: 'sandbox',
    users,
    user,
    seccomp: 'path' in seccomp ? { loaded: true } : { loaded: false, problem: seccomp.problem },
    network,
    sandbox: planSandbox(context.rootEntries, context.mounts, {
      jobDir: context.jobDir,
      hostname,
      stateDir: context.stateDir,
      tmpBytes: DEFAULT_TMP_BYTES,
      recursive: !context.isRoot,
      etcFiles: context.etcFiles,
      ...(users.kind === 'mapped' ? { jobRoot: { uid: users.ids.base, gid: users.ids.base } } : {}),
      ...(context.hidden === undefined ? {} : { hidden: context.hidden }),
      ...(context.procEntries === undefined ? {} : { procEntries: context.procEntries }),
      ...('path' in seccomp ? { seccompLoader: seccomp.path } : {}),
      ...(context.resolvLink === undefined ? {} : { resolvLink: context.resolvLink }),
      ...(context.etcHosts === undefined ? {} : { etcHosts: context.etcHosts }),
      ...(context.etcResolv === undefined ? {} : { etcResolv: context.etcResolv }),
      ...(context.binds === undefined || context.binds.length === 0 ? {} : { binds: context.binds }),
    }),
  };
}

/** Whether the job has a PID namespace of its own, whose end ends everything in it (else its cgroup is what ends it). */
export function ownsPidNamespace(plan: JobPlan): boolean {
  return plan.namespaces.includes('pid');
}

/** What host mode cannot have: each is a part of the sandbox it has none of. */
const SANDBOX_ONLY: ReadonlyArray<[keyof RunRequest, string]> = [
  ['user', '--user (host mode runs as the SSH login; use sudo in the command, or log in as that user with -l)'],
  ['name', '--name (the job has the host\'s hostname)'],
  ['ip', '--ip (the job has the host\'s network)'],
  ['maxBandwidthBps', '--max-bandwidth (the job has the host\'s network)'],
  ['requireSeccomp', '--require-seccomp (host mode has no seccomp filter)'],
  ['pid', '--pid host (host mode is in the host\'s PID namespace already)'],
  ['binds', '--bind (host mode sees the host\'s files as they are)'],
];

/**
 * Host mode (--isolation none): the command runs on the host itself, as the agent's user, in the
 * host's namespaces, starting in that user's home; herd still gives it a job record, its log,
 * detach and reattach, --timeout and the job's cgroup (limits, usage, and the way to end all of it).
 */
function planHostJob(request: RunRequest, context: PlanContext): JobPlan {
  for (const [key, what] of SANDBOX_ONLY) {
    if (request[key] !== undefined) throw new HerdError('INVALID_SPEC', `--isolation none: ${what} is not possible`);
  }
  if (request.network !== undefined && request.network !== 'host') {
    throw new HerdError('INVALID_SPEC', `--isolation none: --network ${request.network} is not possible: the command runs in the host's network`);
  }
  const who = context.hostUser ?? { name: 'root', home: '/', hostname: context.jobId };
  const workdir = request.workdir ?? who.home;
  if (!workdir.startsWith('/')) throw new HerdError('INVALID_SPEC', `--workdir: "${workdir}" must be an absolute path`);
  return {
    jobId: context.jobId,
    argv: [...request.argv],
    env: { PATH: DEFAULT_PATH, HOME: who.home, USER: who.name, LOGNAME: who.name, ...request.env },
    workdir,
    hostname: who.hostname,
    namespaces: [],
    isolation: 'none',
    users: { kind: 'host' },
    user: null,
    network: 'host',
    sandbox: null,
    seccomp: { loaded: false, problem: 'host mode (--isolation none) has no seccomp filter' },
  };
}

/** The launch script's command: unshare and the sandbox chain, or in host mode the init alone. */
export function launchArgv(plan: JobPlan, jobDir: string, command: string, tools: HostTools, joined: boolean): string[] {
  if (plan.isolation === 'none') {
    return ['/bin/sh', '-c', INIT_SCRIPT, INIT_NAME, jobDir, plan.workdir, 'host', 'host', '/bin/sh', '-c', ENV_SCRIPT, ENV_NAME_ARG, command, ...plan.argv.slice(1)];
  }
  return [tools.unshare, ...jobArgv(plan, jobDir, command, tools, joined)];
}

/**
 * The invocation that applies a plan: unshare makes the namespaces and forks our init as PID 1.
 * The cgroup namespace must be made once the job is in its cgroup, so the job sees that cgroup as
 * its root: on the first unshare when the launcher already sits in the job's cgroup (`joined`),
 * else later, after the init has joined during setup.
 *
 * Mapped users: after setup the init starts the command as host uid `base` (still with
 * CAP_SYS_ADMIN, so hosts that forbid unprivileged user namespaces allow this one), which enters
 * a user namespace; there a shell reports its pid on fd 4 and waits on fd 3 while the agent writes
 * the namespace's uid and gid maps, then execs setpriv, now as root of the job's namespace.
 * setpriv drops what the job does not keep and becomes --user.
 */
export function jobArgv(plan: JobPlan, jobDir: string, command: string, tools: HostTools, joined: boolean): string[] {
  const mapped = plan.users.kind === 'mapped';
  const args = plan.namespaces.map((ns) => `--${ns}`);
  if (joined) args.push('--cgroup');
  if (!mapped) args.push('--user', '--map-root-user');
  // --kill-child ties the namespace to the unshare process, our handle for SIGKILL.
  args.push('--fork', '--kill-child=SIGKILL', '--', '/bin/sh', '-c', INIT_SCRIPT, INIT_NAME, jobDir, plan.workdir, initNetwork(plan.network), mapped ? 'map' : 'self');
  if (plan.users.kind === 'mapped') {
    const base = String(plan.users.ids.base);
    args.push(tools.setpriv, `--reuid=${base}`, `--regid=${base}`, '--clear-groups', '--inh-caps=+sys_admin', '--ambient-caps=+sys_admin', '--');
    args.push(tools.unshare, '--user', ...(joined ? [] : ['--cgroup']), '--', '/bin/sh', '-c', USERNS_SCRIPT, USERNS_NAME);
  } else if (!joined) {
    args.push(tools.unshare, '--cgroup', '--');
  }
  args.push(tools.setpriv, '--no-new-privs', `--bounding-set=-all,${KEPT_CAPABILITIES.map((c) => `+${c}`).join(',')}`);
  const user = plan.user ?? (mapped ? { uid: 0, gid: 0 } : null);
  if (user !== null) args.push(`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups');
  // Last, with nothing left to drop: the job's environment, then the seccomp loader (static: no
  // LD_* variable applies to it) and the command.
  args.push('--', '/bin/sh', '-c', ENV_SCRIPT, ENV_NAME_ARG, ...(plan.seccomp.loaded ? [SECCOMP_IN_JOB] : []), command, ...plan.argv.slice(1));
  return args;
}

/** What the init does with the network: bring up loopback (none), leave it to the agent, or touch nothing (host). */
function initNetwork(network: string): 'lo' | 'agent' | 'host' {
  return network === 'none' ? 'lo' : network === 'host' ? 'host' : 'agent';
}

/** The host uid and gid a job user is (for the owner of its /work): `ids` of the host under mapped users. */
export function hostOwner(plan: JobPlan): { uid: number; gid: number } | null {
  const user = plan.user ?? { uid: 0, gid: 0 };
  // A rootless agent's job users are the agent's own user, who owns /work already.
  return plan.users.kind === 'mapped' ? { uid: plan.users.ids.base + user.uid, gid: plan.users.ids.base + user.gid } : null;
}

/** The script a launcher sources: the job's directory, a fixed PATH, then exec unshare. No job environment: see environmentBlock. */
export function launchScript(jobDir: string, argv: readonly string[]): string {
  return `cd ${shellQuote(jobDir)} || exit ${SETUP_FAILED_STATUS}\nPATH=${SETUP_PATH}; export PATH\nexec ${argv.map(shellQuote).join(' ')}\n`;
}

/**
 * The job's environment as ENV_SCRIPT reads it from fd 3, after the agent's last "go": a line
 * NAME=VALUE per variable, a line +MORE per further line of a value, then a line ".".
 */
export function environmentBlock(env: Record<string, string>): string {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name) || RESERVED_ENV.test(name)) throw new HerdError('INVALID_SPEC', `--env: "${name}" is not a valid variable name`);
    const [first, ...more] = value.split('\n');
    lines.push(`${name}=${first}`, ...more.map((line) => `+${line}`));
  }
  lines.push('.');
  return `${lines.join('\n')}\n`;
}
