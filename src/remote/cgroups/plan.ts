import { HerdError } from '../../protocol/errors.ts';
import { parseCpuList } from '../../shared/cpuList.ts';
import type { JobLimits } from '../../protocol/messages.ts';
import type { Hierarchy, V1Controller } from './hierarchy.ts';
import { v1DeviceWrites } from './devicePolicy.ts';
import type { DeviceLoaderSupport } from './installDeviceLoader.ts';

/** What the plan needs to know about the host, read by the agent once. */
export interface CgroupFacts {
  onlineCpus: readonly number[];
  /** major:minor of the whole disk behind the job's /work, or why there is none. */
  ioDevice: { device: string } | { problem: string };
  /** v1: the root cpuset, which a new cpuset cgroup must be given before it takes tasks. */
  v1Cpuset?: { cpus: string; mems: string };
  /** v1: whether memory+swap can be limited (memory.memsw.* exists). */
  v1Memsw?: boolean;
  /** v2: whether memory.swap.max exists (swap accounting). */
  v2Swap?: boolean;
  /** v2: herd-devices, which attaches the device policy, or why there is none. */
  v2Devices?: DeviceLoaderSupport;
}

/** How the job's device policy (devicePolicy.ts) is enforced, or why it is not. */
export type DeviceEnforcement =
  | { kind: 'v1' }
  | { kind: 'bpf'; loader: string }
  | { kind: 'none'; problem: string };

export type UsageSource =
  | { kind: 'cpuacct.usage'; path: string }
  | { kind: 'cpu.stat'; path: string }
  | { kind: 'memory.max_usage_in_bytes' | 'memory.peak'; path: string }
  | { kind: 'blkio.throttle.io_service_bytes' | 'io.stat'; path: string; device: string | null }
  | { kind: 'memory.oom_control' | 'memory.events'; path: string };

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

/** cpu.cfs_period_us / cpu.max period: 100 ms, the kernel's default. */
export const CPU_PERIOD_US = 100_000;
export const MIN_MEMORY_BYTES = 4 * 1024 * 1024;
/** The init and the command: fewer processes than this and no job can start. */
export const MIN_PIDS = 2;

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

function planV1(limits: JobLimits, hierarchy: Extract<Hierarchy, { version: 1 }>, facts: CgroupFacts, jobId: string, device: string | null): CgroupPlan {
  const need = (controller: V1Controller, flag: string): string => {
    const mount = hierarchy.mounts.get(controller);
    if (mount === undefined) unsupported(flag, `this host has no ${controller} cgroup controller`);
    return mount;
  };
  if (limits.cpuPercent !== undefined) need('cpu', '--max-cpu');
  if (limits.cpuCores !== undefined) need('cpuset', '--cpu-cores');
  if (limits.memoryBytes !== undefined) need('memory', '--max-memory');
  if (limits.pids !== undefined) need('pids', '--max-pids');
  if (limits.readBps !== undefined || limits.writeBps !== undefined) need('blkio', limits.writeBps !== undefined ? '--max-write-bps' : '--max-read-bps');

  // Every controller there is, limited or not: usage figures come from memory, cpuacct and blkio,
  // and a job's cgroups have the same shape whatever its limits, so a spare one can become any job's.
  const wanted: V1Controller[] = ['memory', 'cpuacct', 'pids', 'blkio', 'cpu', 'cpuset', 'devices'];
  const dirs = new Map<string, string>();
  for (const controller of wanted) {
    const mount = hierarchy.mounts.get(controller);
    if (mount !== undefined && !dirs.has(mount)) dirs.set(mount, `${mount}/herd/${jobId}`);
  }
  const dirOf = (controller: V1Controller): string | undefined => {
    const mount = hierarchy.mounts.get(controller);
    return mount === undefined ? undefined : dirs.get(mount);
  };
  const devicesDir = dirOf('devices');
  const devices: DeviceEnforcement = devicesDir === undefined ? { kind: 'none', problem: 'this host has no devices cgroup controller' } : { kind: 'v1' };
  const plan: CgroupPlan = { version: 1, create: [], leaves: [], prepare: [], writes: [], procs: [], usage: [], devices };
  for (const [mount, dir] of dirs) {
    plan.create.push(`${mount}/herd`, dir);
    plan.leaves.push(dir);
    plan.procs.push(`${dir}/cgroup.procs`);
  }
  const cpusetDir = dirOf('cpuset');
  if (cpusetDir !== undefined) {
    // A v1 cpuset cgroup starts with no CPUs and no memory nodes, and takes no task until it has both.
    const root = facts.v1Cpuset ?? { cpus: facts.onlineCpus.join(','), mems: '0' };
    const parent = `${hierarchy.mounts.get('cpuset')}/herd`;
    plan.prepare.push(
      { path: `${parent}/cpuset.cpus`, value: root.cpus },
      { path: `${parent}/cpuset.mems`, value: root.mems },
      { path: `${cpusetDir}/cpuset.cpus`, value: root.cpus },
      { path: `${cpusetDir}/cpuset.mems`, value: root.mems },
    );
    if (limits.cpuCores !== undefined) plan.writes.push({ path: `${cpusetDir}/cpuset.cpus`, value: limits.cpuCores });
  }
  // Before anything joins: the job never has a moment with the host's devices.
  if (devicesDir !== undefined) plan.prepare.push(...v1DeviceWrites(devicesDir));
  const cpuDir = dirOf('cpu');
  if (limits.cpuPercent !== undefined && cpuDir !== undefined) {
    plan.writes.push(
      { path: `${cpuDir}/cpu.cfs_period_us`, value: String(CPU_PERIOD_US) },
      { path: `${cpuDir}/cpu.cfs_quota_us`, value: String((limits.cpuPercent * CPU_PERIOD_US) / 100) },
    );
  }
  const memoryDir = dirOf('memory');
  if (limits.memoryBytes !== undefined && memoryDir !== undefined) {
    plan.writes.push({ path: `${memoryDir}/memory.limit_in_bytes`, value: String(limits.memoryBytes) });
    // memory+swap no higher than memory: no swapping beyond the limit. It must not be below it, so it comes second.
    if (facts.v1Memsw === true) plan.writes.push({ path: `${memoryDir}/memory.memsw.limit_in_bytes`, value: String(limits.memoryBytes) });
  }
  const pidsDir = dirOf('pids');
  if (limits.pids !== undefined && pidsDir !== undefined) plan.writes.push({ path: `${pidsDir}/pids.max`, value: String(limits.pids) });
  const blkioDir = dirOf('blkio');
  if (blkioDir !== undefined && device !== null) {
    if (limits.readBps !== undefined) plan.writes.push({ path: `${blkioDir}/blkio.throttle.read_bps_device`, value: `${device} ${limits.readBps}` });
    if (limits.writeBps !== undefined) plan.writes.push({ path: `${blkioDir}/blkio.throttle.write_bps_device`, value: `${device} ${limits.writeBps}` });
  }
  const cpuacctDir = dirOf('cpuacct');
  if (cpuacctDir !== undefined) plan.usage.push({ kind: 'cpuacct.usage', path: `${cpuacctDir}/cpuacct.usage` });
  if (memoryDir !== undefined) {
    plan.usage.push({ kind: 'memory.max_usage_in_bytes', path: `${memoryDir}/memory.max_usage_in_bytes` });
    plan.usage.push({ kind: 'memory.oom_control', path: `${memoryDir}/memory.oom_control` });
  }
  if (blkioDir !== undefined) plan.usage.push({ kind: 'blkio.throttle.io_service_bytes', path: `${blkioDir}/blkio.throttle.io_service_bytes`, device });
  return plan;
}

function planV2(limits: JobLimits, hierarchy: Extract<Hierarchy, { version: 2 }>, facts: CgroupFacts, jobId: string, device: string | null): CgroupPlan {
  const need = (controller: string, flag: string): void => {
    if (!hierarchy.controllers.has(controller)) unsupported(flag, `this host's cgroup v2 hierarchy does not offer the ${controller} controller`);
  };
  if (limits.cpuPercent !== undefined) need('cpu', '--max-cpu');
  if (limits.cpuCores !== undefined) need('cpuset', '--cpu-cores');
  if (limits.pids !== undefined) need('pids', '--max-pids');
  if (limits.readBps !== undefined || limits.writeBps !== undefined) need('io', limits.writeBps !== undefined ? '--max-write-bps' : '--max-read-bps');
  const enable = ['memory', 'pids', 'cpu', 'io', 'cpuset'].filter((c) => hierarchy.controllers.has(c));
  const root = hierarchy.root;
  const herd = `${root}/herd`;
  const dir = `${herd}/${jobId}`;
  const subtree = enable.map((c) => `+${c}`).join(' ');
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
    usage: [
      { kind: 'cpu.stat', path: `${dir}/cpu.stat` },
      { kind: 'memory.peak', path: `${dir}/memory.peak` },
      { kind: 'memory.events', path: `${dir}/memory.events` },
      { kind: 'io.stat', path: `${dir}/io.stat`, device },
    ],
    devices: facts.v2Devices === undefined
      ? { kind: 'none', problem: 'the agent did not look for eBPF device support' }
      : 'loader' in facts.v2Devices ? { kind: 'bpf', loader: facts.v2Devices.loader } : { kind: 'none', problem: facts.v2Devices.problem },
  };
  if (limits.cpuPercent !== undefined) plan.writes.push({ path: `${dir}/cpu.max`, value: `${(limits.cpuPercent * CPU_PERIOD_US) / 100} ${CPU_PERIOD_US}` });
  if (limits.cpuCores !== undefined) plan.writes.push({ path: `${dir}/cpuset.cpus`, value: limits.cpuCores });
  if (limits.memoryBytes !== undefined) {
    plan.writes.push({ path: `${dir}/memory.max`, value: String(limits.memoryBytes) });
    if (facts.v2Swap === true) plan.writes.push({ path: `${dir}/memory.swap.max`, value: '0' });
  }
  if (limits.pids !== undefined) plan.writes.push({ path: `${dir}/pids.max`, value: String(limits.pids) });
  if (device !== null && (limits.readBps !== undefined || limits.writeBps !== undefined)) {
    const parts = [device];
    if (limits.readBps !== undefined) parts.push(`rbps=${limits.readBps}`);
    if (limits.writeBps !== undefined) parts.push(`wbps=${limits.writeBps}`);
    plan.writes.push({ path: `${dir}/io.max`, value: parts.join(' ') });
  }
  return plan;
}
