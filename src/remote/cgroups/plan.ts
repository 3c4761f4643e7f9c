import { HerdError } from '../../protocol/errors.ts';
import { parseCpuList } from '../../shared/cpuList.ts';
import type { JobLimits } from '../../protocol/messages.ts';
import type { Hierarchy, V1Controller } from './hierarchy.ts';
import type { CgroupFacts, ControllerPlan, Controller, UsageReading, UsageSource } from './controllers/controller.ts';
import { cpu } from './controllers/cpu.ts';
import { cpuset } from './controllers/cpuset.ts';
import { devices } from './controllers/devices.ts';
import { io } from './controllers/io.ts';
import { memory, MIN_MEMORY_BYTES } from './controllers/memory.ts';
import { MIN_PIDS, pids } from './controllers/pids.ts';

export type { CgroupFacts, UsageSource } from './controllers/controller.ts';

/** How the job's device policy (devicePolicy.ts) is enforced, or why it is not. */
export type DeviceEnforcement =
  | { kind: 'v1' }
  | { kind: 'bpf'; loader: string }
  | { kind: 'none'; problem: string };

/** A job's cgroups as data: what to create and write, where the job joins, what to read after. */
export interface CgroupPlan {
  version: 1 | 2;
  /** Directories to create, parents first; an existing parent is fine. */
  create: string[];
  /** The job's own directories (leaves), removed after the job. */
  leaves: string[];
  /** Written first: what any process needs before it can join (cpuset nodes, v2 controllers). */
  prepare: Array<{ path: string; value: string }>;
  /** The job's limits, written after prepare (for a spare cgroup, once it becomes the job's). */
  writes: Array<{ path: string; value: string }>;
  /** cgroup.procs files the job's init is written into. */
  procs: string[];
  usage: UsageSource[];
  /** v1: its writes are in `prepare`; bpf: the loader is run on the leaf after `prepare`. */
  devices: DeviceEnforcement;
}

function unsupported(flag: string, why: string): never {
  throw new HerdError('LIMIT_UNSUPPORTED', `${flag}: ${why}`, { hint: 'remove the limit, or run the job on a host that can enforce it' });
}

/** Checks limits against the host before anything is created. */
export function validateLimits(limits: JobLimits, facts: CgroupFacts): void {
  const cores = facts.onlineCpus.length;
  if (limits.cpuPercent !== undefined && limits.cpuPercent > cores * 100) {
    throw new HerdError('INVALID_SPEC', `--max-cpu ${limits.cpuPercent}: this host has ${cores} CPUs, so at most ${cores * 100}`);
  }
  if (limits.cpuCores !== undefined) {
    const missing = parseCpuList(limits.cpuCores, '--cpu-cores').filter((cpu) => !facts.onlineCpus.includes(cpu));
    if (missing.length > 0) throw new HerdError('INVALID_SPEC', `--cpu-cores ${limits.cpuCores}: CPU ${missing.join(',')} is not online on this host (online: ${facts.onlineCpus.join(',')})`);
  }
  if (limits.memoryBytes !== undefined && limits.memoryBytes < MIN_MEMORY_BYTES) {
    throw new HerdError('INVALID_SPEC', `--max-memory ${limits.memoryBytes}: at least ${MIN_MEMORY_BYTES} bytes (4M)`);
  }
  if (limits.pids !== undefined && limits.pids < MIN_PIDS) throw new HerdError('INVALID_SPEC', `--max-pids ${limits.pids}: at least ${MIN_PIDS}`);
  if ((limits.readBps !== undefined || limits.writeBps !== undefined) && 'problem' in facts.ioDevice) {
    unsupported(limits.writeBps !== undefined ? '--max-write-bps' : '--max-read-bps', facts.ioDevice.problem);
  }
}

/** The flag a user typed for each limit, for messages. */
export const LIMIT_FLAGS: Record<keyof JobLimits, string> = {
  cpuPercent: '--max-cpu',
  cpuCores: '--cpu-cores',
  memoryBytes: '--max-memory',
  pids: '--max-pids',
  readBps: '--max-read-bps',
  writeBps: '--max-write-bps',
};

function firstLimit(limits: JobLimits): string | null {
  const key = (Object.keys(LIMIT_FLAGS) as Array<keyof JobLimits>).find((k) => limits[k] !== undefined);
  return key === undefined ? null : LIMIT_FLAGS[key];
}

/**
 * Plans the job's cgroups. With no hierarchy herd can use, a job without limits runs
 * without a cgroup (and without usage figures); a job with limits is refused.
 */
export function planCgroup(limits: JobLimits, hierarchy: Hierarchy | null, facts: CgroupFacts, jobId: string): CgroupPlan | null {
  validateLimits(limits, facts);
  if (hierarchy === null) {
    const flag = firstLimit(limits);
    if (flag !== null) unsupported(flag, 'no cgroup hierarchy is available to herd on this host (limits need root, or a delegated cgroup)');
    return null;
  }
  const device = 'device' in facts.ioDevice ? facts.ioDevice.device : null;
  return hierarchy.version === 2 ? planV2(limits, hierarchy, facts, jobId, device) : planV1(limits, hierarchy, facts, jobId, device);
}

/** Every controller a job's cgroup has, in the order v2 enables them. */
const CONTROLLERS: readonly Controller[] = [memory, pids, cpu, io, cpuset, devices];

/** Adds each controller's part to the plan, in CONTROLLERS order. */
function addParts(plan: CgroupPlan, parts: readonly ControllerPlan[]): void {
  for (const part of parts) {
    plan.prepare.push(...(part.prepare ?? []));
    plan.writes.push(...(part.writes ?? []));
    plan.usage.push(...(part.usage ?? []));
  }
}

/** The flag of the first of `limits` the request sets, if any. */
function flagOf(limits: JobLimits, keys: ReadonlyArray<keyof JobLimits>): string | null {
  const key = [...keys].reverse().find((k) => limits[k] !== undefined);
  return key === undefined ? null : LIMIT_FLAGS[key];
}

function planV1(limits: JobLimits, hierarchy: Extract<Hierarchy, { version: 1 }>, facts: CgroupFacts, jobId: string, device: string | null): CgroupPlan {
  for (const controller of CONTROLLERS) {
    const flag = flagOf(limits, controller.limits);
    if (flag !== null && controller.v1 !== null && !hierarchy.mounts.has(controller.v1)) unsupported(flag, `this host has no ${controller.v1} cgroup controller`);
  }
  // Every controller there is, limited or not: usage figures come from memory, cpuacct and blkio,
  // and a job's cgroups have the same shape whatever its limits, so a spare one can become any job's.
  const wanted: V1Controller[] = ['memory', 'cpuacct', 'pids', 'blkio', 'cpu', 'cpuset', 'devices'];
  const dirs = new Map<string, string>();
  for (const controller of wanted) {
    const mount = hierarchy.mounts.get(controller);
    if (mount !== undefined && !dirs.has(mount)) dirs.set(mount, `${mount}/herd/${jobId}`);
  }
  const mountOf = (controller: V1Controller): string | undefined => hierarchy.mounts.get(controller);
  const dirOf = (controller: V1Controller): string | undefined => {
    const mount = mountOf(controller);
    return mount === undefined ? undefined : dirs.get(mount);
  };
  const devicesEnforced: DeviceEnforcement = dirOf('devices') === undefined ? { kind: 'none', problem: 'this host has no devices cgroup controller' } : { kind: 'v1' };
  const plan: CgroupPlan = { version: 1, create: [], leaves: [], prepare: [], writes: [], procs: [], usage: [], devices: devicesEnforced };
  for (const [mount, dir] of dirs) {
    plan.create.push(`${mount}/herd`, dir);
    plan.leaves.push(dir);
    plan.procs.push(`${dir}/cgroup.procs`);
  }
  const input = { limits, facts, device };
  addParts(plan, CONTROLLERS.map((controller) => controller.planV1(dirOf, input, mountOf)));
  return plan;
}

function planV2(limits: JobLimits, hierarchy: Extract<Hierarchy, { version: 2 }>, facts: CgroupFacts, jobId: string, device: string | null): CgroupPlan {
  for (const controller of CONTROLLERS) {
    const flag = flagOf(limits, controller.limits);
    if (flag !== null && controller.v2 !== null && !hierarchy.controllers.has(controller.v2)) {
      unsupported(flag, `this host's cgroup v2 hierarchy does not offer the ${controller.v2} controller`);
    }
  }
  const present = CONTROLLERS.filter((c) => c.v2 !== null && hierarchy.controllers.has(c.v2));
  const root = hierarchy.root;
  const herd = `${root}/herd`;
  const dir = `${herd}/${jobId}`;
  const subtree = present.map((c) => `+${c.v2}`).join(' ');
  const plan: CgroupPlan = {
    version: 2,
    create: [herd, dir],
    leaves: [dir],
    // Controllers must be enabled at each level down to the job's cgroup; herd's own cgroup holds
    // no process, as the v2 "no internal processes" rule requires.
    prepare: [
      { path: `${root}/cgroup.subtree_control`, value: subtree },
      { path: `${herd}/cgroup.subtree_control`, value: subtree },
    ],
    writes: [],
    procs: [`${dir}/cgroup.procs`],
    usage: [],
    devices: facts.v2Devices === undefined
      ? { kind: 'none', problem: 'the agent did not look for eBPF device support' }
      : 'loader' in facts.v2Devices ? { kind: 'bpf', loader: facts.v2Devices.loader } : { kind: 'none', problem: facts.v2Devices.problem },
  };
  const input = { limits, facts, device };
  addParts(plan, present.map((controller) => controller.planV2(dir, input)));
  return plan;
}

/** What the job used, from the files its plan names, each read by its controller. */
export function readUsage(source: UsageSource, text: string): UsageReading {
  for (const controller of CONTROLLERS) {
    const read = controller.read[source.kind];
    if (read !== undefined) return read(text, source);
  }
  return {};
}
