import type { JobLimits, JobUsage } from '../../../protocol/messages.ts';
import type { V1Controller } from '../hierarchy.ts';
import type { DeviceLoaderSupport } from '../installDeviceLoader.ts';

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

/** A file a job's usage is read from after it ends, by the kind of file it is. */
export type UsageSource =
  | { kind: 'cpuacct.usage'; path: string }
  | { kind: 'cpu.stat'; path: string }
  | { kind: 'memory.max_usage_in_bytes' | 'memory.peak'; path: string }
  | { kind: 'blkio.throttle.io_service_bytes' | 'io.stat'; path: string; device: string | null }
  | { kind: 'memory.oom_control' | 'memory.events'; path: string };
export type UsageKind = UsageSource['kind'];

export interface CgroupWrite {
  path: string;
  value: string;
}

/** What one controller adds to a job's cgroup plan. */
export interface ControllerPlan {
  /** Written before any process joins (a spare cgroup has these before it is anyone's). */
  prepare?: CgroupWrite[];
  /** The job's limits. */
  writes?: CgroupWrite[];
  usage?: UsageSource[];
}

export interface PlanInput {
  limits: JobLimits;
  facts: CgroupFacts;
  /** major:minor of the disk I/O limits and figures are about, or null where there is none. */
  device: string | null;
}

/** What a usage file says: figures for JobUsage, and whether the OOM killer struck. */
export type UsageReading = Partial<JobUsage> & { oomKilled?: boolean };

/**
 * One cgroup controller (as runc's fs and fs2 packages have one file each): how it sets a job's
 * limits and what it reads back, on cgroup v1 and v2.
 */
export interface Controller {
  /** v1: the controller whose hierarchy its limits need (a host without it refuses them). */
  v1: V1Controller | null;
  /** v2: the controller to enable down to the job's cgroup; null where v2 has none. */
  v2: string | null;
  /** The limits it enforces. */
  limits: ReadonlyArray<keyof JobLimits>;
  /** `dirOf`: the job's directory in a v1 controller's hierarchy, where the host has it. */
  planV1(dirOf: (controller: V1Controller) => string | undefined, input: PlanInput, mountOf: (controller: V1Controller) => string | undefined): ControllerPlan;
  planV2(dir: string, input: PlanInput): ControllerPlan;
  /** Readers of the usage files it names. */
  read: Partial<Record<UsageKind, (text: string, source: UsageSource) => UsageReading>>;
}

/** `name N` on a line of its own (cpu.stat, memory.events, memory.oom_control). */
export function field(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return match === null ? undefined : Number(match[1]);
}
