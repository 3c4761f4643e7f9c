import { HerdError } from '../protocol/errors.ts';
import type { RunRequest } from '../protocol/messages.ts';
import { INIT_NAME, INIT_SCRIPT } from './init.ts';
import type { MountEntry } from './mountinfo.ts';
import { shellQuote } from './shellQuote.ts';
import { DEFAULT_TMP_BYTES, planSandbox, type RootEntry, type SandboxPlan } from './sandboxPlan.ts';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type Namespace = 'pid' | 'mount' | 'uts' | 'ipc' | 'net';

/**
 * The capability bounding set a job keeps (Docker's default set). Dropped, among others:
 * sys_admin (mount), sys_module, sys_rawio, sys_ptrace, net_admin, sys_boot, sys_time,
 * sys_resource, syslog, bpf, perfmon. no_new_privs is always set, so setuid binaries
 * cannot raise anything back.
 */
export const KEPT_CAPABILITIES = [
  'chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap',
  'net_bind_service', 'net_raw', 'sys_chroot', 'mknod', 'audit_write', 'setfcap',
] as const;

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
  /** Without root, a user namespace maps us to root inside so the other namespaces can be made. */
  userNamespace: boolean;
  user: { uid: number; gid: number } | null;
  /** host: the host's network namespace; none: loopback only; else the network's name. */
  network: string;
  sandbox: SandboxPlan;
}

export interface PlanContext {
  jobId: string;
  isRoot: boolean;
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
  /** The host's resolv.conf symlink into /run, with the content the job's copy gets. */
  resolvLink?: { target: string; content: string };
}

/** The network a job joins: what it asked for, else bridge on a root agent and none on a rootless one. */
export function jobNetwork(request: RunRequest, isRoot: boolean): string {
  return request.network ?? (isRoot ? 'bridge' : 'none');
}

export function planJob(request: RunRequest, context: PlanContext): JobPlan {
  for (const name of Object.keys(request.env)) {
    if (!ENV_NAME.test(name)) throw new HerdError('INVALID_SPEC', `--env: "${name}" is not a valid variable name`);
  }
  if (request.argv[0] === '') throw new HerdError('INVALID_SPEC', 'the command is empty');
  const workdir = request.workdir ?? '/work';
  if (!workdir.startsWith('/')) throw new HerdError('INVALID_SPEC', `--workdir: "${workdir}" must be an absolute path`);
  let user: JobPlan['user'] = null;
  if (request.user !== undefined) {
    const { uid, gid } = request.user;
    if (!context.isRoot && (uid !== 0 || gid !== 0)) {
      throw new HerdError('INVALID_SPEC', `--user ${uid}:${gid}: jobs of a non-root agent run as that user; --user needs herd to reach the host as root`);
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
  return {
    jobId: context.jobId,
    argv: [...request.argv],
    env,
    workdir,
    hostname,
    namespaces: network === 'host' ? ['pid', 'mount', 'uts', 'ipc'] : ['pid', 'mount', 'uts', 'ipc', 'net'],
    userNamespace: !context.isRoot,
    user,
    network,
    sandbox: planSandbox(context.rootEntries, context.mounts, {
      jobDir: context.jobDir,
      hostname,
      stateDir: context.stateDir,
      tmpBytes: DEFAULT_TMP_BYTES,
      recursive: !context.isRoot,
      etcFiles: context.etcFiles,
      ...(context.resolvLink === undefined ? {} : { resolvLink: context.resolvLink }),
      ...(context.etcHosts === undefined ? {} : { etcHosts: context.etcHosts }),
      ...(context.etcResolv === undefined ? {} : { etcResolv: context.etcResolv }),
    }),
  };
}

export interface HostTools {
  unshare: string;
  setpriv: string;
}

/**
 * The invocation that applies a plan: unshare makes the namespaces and forks our init as PID 1.
 * The cgroup namespace must be made once the job is in its cgroup, so the job sees that cgroup as
 * its root: on the first unshare when the launcher already sits in the job's cgroup (`joined`),
 * else on a second unshare just before the command, after the init has joined during setup.
 * setpriv then drops privileges.
 */
export function jobArgv(plan: JobPlan, jobDir: string, command: string, tools: HostTools, joined: boolean): string[] {
  const args = plan.namespaces.map((ns) => `--${ns}`);
  if (joined) args.push('--cgroup');
  if (plan.userNamespace) args.push('--user', '--map-root-user');
  // --kill-child ties the namespace to the unshare process, our handle for SIGKILL.
  args.push('--fork', '--kill-child=SIGKILL', '--', '/bin/sh', '-c', INIT_SCRIPT, INIT_NAME, jobDir, plan.workdir, plan.network === 'none' ? 'lo' : 'agent');
  if (!joined) args.push(tools.unshare, '--cgroup', '--');
  args.push(tools.setpriv, '--no-new-privs', `--bounding-set=-all,${KEPT_CAPABILITIES.map((c) => `+${c}`).join(',')}`);
  if (plan.user !== null) args.push(`--reuid=${plan.user.uid}`, `--regid=${plan.user.gid}`, '--clear-groups');
  args.push('--', command, ...plan.argv.slice(1));
  return args;
}

/** The script a launcher sources: the job's directory, its environment, then exec unshare. */
export function launchScript(plan: JobPlan, jobDir: string, argv: readonly string[]): string {
  const lines = [`cd ${shellQuote(jobDir)} || exit 125`];
  for (const [name, value] of Object.entries(plan.env)) lines.push(`export ${name}=${shellQuote(value)}`);
  lines.push(`exec ${argv.map(shellQuote).join(' ')}`);
  return `${lines.join('\n')}\n`;
}
