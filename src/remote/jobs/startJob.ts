import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import type { RunRequest } from '../../protocol/messages.ts';
import { JobCgroup } from '../cgroups/jobCgroup.ts';
import { planCgroup, type CgroupPlan } from '../cgroups/plan.ts';
import { resolveCommand, resolveJobCommand } from '../system/command.ts';
import type { AgentState } from '../agent/agentState.ts';
import { Job } from './job.ts';
import type { JobTerms } from './jobTerms.ts';
import { jobNetwork, planJob, type JobPlan } from './jobPlan.ts';
import { checkBinds } from '../sandbox/binds.ts';
import type { NetworkSpec } from '../net/network.ts';
import { spawnLauncher, type Launch } from './launcher.ts';
import { resolvConf } from '../net/network.ts';
import { readHostMounts, readResolvLink } from '../sandbox/sandbox.ts';
import { newJobId } from './jobId.ts';

/**
 * Starts a job on this host: its plan (sandbox inputs, network files), its cgroup (a spare
 * launcher's when one is ready), network phase 1, then the Job itself. Anything made before a
 * failure is undone; the error goes to the caller.
 */
export function startJob(agent: AgentState, message: RunRequest, terms: JobTerms, fixedId?: string): Job {
  // A job takes the spare launcher's id when there is one: its cgroup already has that name.
  const jobId = fixedId ?? agent.launchers?.peek() ?? newJobId();
  const { plan, networkSpec, cgroupPlan } = planFor(agent, message, jobId);
  const tools = agent.tools();
  const command = plan.sandbox === null ? resolveCommand(plan.argv[0]!, plan.env.PATH ?? '') : resolveJobCommand(plan.argv[0]!, plan.env.PATH ?? '', plan.workdir, join(agent.paths.jobs, jobId, 'work'));
  const spare = cgroupPlan !== null && agent.launchers?.peek() === jobId ? agent.launchers.take(cgroupPlan) : null;
  const launch: Launch = spare ?? {
    child: spawnLauncher(agent.paths.jobs),
    cgroup: cgroupPlan === null ? null : JobCgroup.create(cgroupPlan),
    joined: false,
  };
  // Network phase 1 (bridge, rules, an address) starts now; phase 2 when the init is up.
  const joining = networkSpec === null ? null : agent.networks.join(networkSpec, jobId, message.name, message.ip, message.maxBandwidthBps);
  joining?.catch(() => {});
  let job: Job;
  try {
    job = Job.launch(plan, agent.paths.jobs, tools, command, launch, joining, terms);
  } catch (err) {
    launch.child.kill('SIGKILL');
    void launch.cgroup?.remove();
    void joining?.then((network) => network.release(), () => {});
    throw err;
  }
  return job;
}

/**
 * A request as a plan, checked against this host (its networks, its limits) without starting
 * anything: what a job will be, and what a scheduled one is validated with when it is created.
 */
export function planFor(agent: AgentState, message: RunRequest, jobId: string): { plan: JobPlan; networkSpec: NetworkSpec | null; cgroupPlan: CgroupPlan | null } {
  const networkName = jobNetwork(message, agent.isRoot);
  const joinsNetwork = networkName !== 'none' && networkName !== 'host' && agent.isRoot;
  const networkSpec = joinsNetwork ? agent.networks.find(networkName) : null;
  const etcResolv = networkSpec === null ? undefined : agent.networks.resolvFile(networkSpec);
  // systemd-resolved hosts: resolv.conf links into /run, which the job gets empty.
  const link = readResolvLink();
  const dns = networkSpec?.dns ?? [];
  const resolvLink =
    link === null ? undefined : { target: link.target, content: dns.length > 0 ? resolvConf(dns) : link.content };
  const plan = planJob(message, {
    jobId,
    isRoot: agent.isRoot,
    ...(agent.isRoot ? { ids: agent.jobIds() } : {}),
    jobDir: join(agent.paths.jobs, jobId),
    stateDir: agent.paths.dir,
    rootEntries: agent.hostRoot,
    mounts: readHostMounts(),
    etcFiles: agent.etcFiles,
    hidden: agent.hidden,
    seccomp: agent.seccomp(),
    procEntries: agent.procEntries,
    ...(networkSpec === null ? {} : { etcHosts: agent.networks.hostsFile(networkSpec) }),
    ...(etcResolv === undefined ? {} : { etcResolv }),
    ...(resolvLink === undefined ? {} : { resolvLink }),
    ...(message.isolation === 'none' ? { hostUser: hostUserOf() } : {}),
    ...(message.binds === undefined || message.binds.length === 0 ? {} : { binds: checkBinds(message.binds, agent.paths.dir) }),
  });
  // Limits the host cannot enforce fail here, before anything exists.
  const host = agent.cgroups();
  const cgroupPlan = planCgroup(message.limits ?? {}, host.hierarchy, host.facts, jobId);
  return { plan, networkSpec, cgroupPlan };
}

/** The agent's user as the password database has it (not $HOME, which the SSH login's environment set). */
function hostUserOf(): { name: string; home: string; hostname: string } {
  const info = userInfo();
  return { name: info.username, home: info.homedir, hostname: hostname() };
}
