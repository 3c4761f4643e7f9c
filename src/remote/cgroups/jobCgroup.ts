import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { HerdError } from '../../protocol/errors.ts';
import type { JobUsage } from '../../protocol/messages.ts';
import { readText } from './facts.ts';
import { runDeviceLoader } from './installDeviceLoader.ts';
import { readUsage, type CgroupPlan } from './plan.ts';

/** Removals still retrying (a job's last process not yet reaped): an agent that exits waits for them. */
const removing = new Set<Promise<void>>();

/** Settles once every cgroup removal begun so far has finished. */
export function cgroupRemovalsSettled(): Promise<void> {
  return Promise.allSettled([...removing]).then(() => undefined);
}

/** A job's cgroups on the host: created from a plan, joined by the job's init, read and removed after. */
export class JobCgroup {
  readonly plan: CgroupPlan;
  private readonly created: string[] = [];

  private constructor(plan: CgroupPlan) {
    this.plan = plan;
  }

  /** Creates the directories and writes the limits; on any failure removes what it made. */
  static create(plan: CgroupPlan): JobCgroup {
    const cgroup = new JobCgroup(plan);
    try {
      for (const dir of plan.create) {
        try {
          mkdirSync(dir);
          if (plan.leaves.includes(dir)) cgroup.created.push(dir);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
      }
      writeAll(plan.prepare);
      if (plan.devices.kind === 'bpf') attachDevicePolicy(plan.devices.loader, plan.leaves[0]!);
      writeAll(plan.writes);
    } catch (err) {
      cgroup.discard();
      throw err instanceof HerdError ? err : new HerdError('LIMIT_UNSUPPORTED', `cannot create the job's cgroup: ${(err as Error).message}`, { hint: 'limits need root on the host' });
    }
    return cgroup;
  }

  /** The cgroup of a running job another agent made (a job taken over): read and removed like our own. */
  static existing(plan: CgroupPlan): JobCgroup {
    const cgroup = new JobCgroup(plan);
    cgroup.created.push(...plan.leaves);
    return cgroup;
  }

  /**
   * Makes this spare cgroup the job's: it was created under the job's id (cgroup v2 cannot rename a
   * cgroup), so only the job's limits remain to be written.
   */
  becomeJobs(jobPlan: CgroupPlan): JobCgroup {
    if (jobPlan.leaves.join('\n') !== this.plan.leaves.join('\n')) {
      throw new HerdError('INTERNAL', "a spare cgroup does not have the shape of the job's");
    }
    const jobs = new JobCgroup(jobPlan);
    jobs.created.push(...this.created.splice(0));
    try {
      writeAll(jobPlan.writes);
    } catch (err) {
      void jobs.remove();
      throw err;
    }
    return jobs;
  }

  /**
   * Moves a process (and so every process it later starts) into the job's cgroups. Off the
   * event loop: the first migration waits for an RCU grace period in the kernel.
   */
  async attach(pid: number): Promise<void> {
    for (const procs of this.plan.procs) await writeFile(procs, String(pid));
  }

  /** What the job used, and whether the kernel's OOM killer struck inside it. */
  usage(): { usage: JobUsage; oomKilled: boolean } {
    const usage: JobUsage = {};
    let oomKilled = false;
    for (const source of this.plan.usage) {
      const text = readText(source.path);
      if (text === null) continue;
      const { oomKilled: killed, ...figures } = readUsage(source, text);
      Object.assign(usage, figures);
      oomKilled ||= killed === true;
    }
    return { usage, oomKilled };
  }

  /** SIGKILL to every process in the job's cgroups, now (cgroup.kill on v2, one by one on v1); they stay. */
  killAll(): void {
    for (const dir of this.created) {
      if (this.plan.version === 2) {
        try {
          writeFileSync(`${dir}/cgroup.kill`, '1');
          continue;
        } catch {
          // kernels before 5.14 have no cgroup.kill
        }
      }
      for (const pid of (readText(`${dir}/cgroup.procs`) ?? '').split('\n').filter(Boolean).map(Number)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }

  /** Kills whatever is left (cgroup.kill on v2, one by one on v1) and removes the job's cgroups. */
  remove(): Promise<void> {
    const removal = this.removeDirs(this.created.splice(0));
    removing.add(removal);
    void removal.finally(() => removing.delete(removal));
    return removal;
  }

  private async removeDirs(dirs: string[]): Promise<void> {
    for (const dir of dirs) {
      if (this.plan.version === 2) {
        try {
          writeFileSync(`${dir}/cgroup.kill`, '1');
        } catch {
          // kernels before 5.14 have no cgroup.kill; the loop below does it
        }
      }
      // rmdir fails with EBUSY until the last process has exited: retry briefly, without blocking.
      for (let attempt = 0; attempt < REMOVE_ATTEMPTS; attempt++) {
        for (const pid of (readText(`${dir}/cgroup.procs`) ?? '').split('\n').filter(Boolean).map(Number)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        try {
          rmdirSync(dir);
          break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    }
  }

  /** Synchronous removal for a cgroup no process ever joined (a job that failed to start). */
  discard(): void {
    for (const dir of this.created.splice(0)) {
      try {
        rmdirSync(dir);
      } catch {
        // left for the next agent start to find
      }
    }
  }
}

/**
 * cgroup v2: herd-devices attaches the device policy to the job's cgroup before anything joins it.
 * Synchronous like the writes around it (a few milliseconds; a spare's cgroup pays it while no
 * job waits).
 */
function attachDevicePolicy(loader: string, dir: string): void {
  const problem = runDeviceLoader(loader, dir);
  if (problem !== null) throw new HerdError('ISOLATION_UNSUPPORTED', `cannot attach the device policy to ${dir}: ${problem}`);
}

/** 50 × 20 ms: a second for the last processes of a job to exit after SIGKILL. */
const REMOVE_ATTEMPTS = 50;

function writeAll(writes: ReadonlyArray<{ path: string; value: string }>): void {
  for (const { path, value } of writes) {
    try {
      writeFileSync(path, value);
    } catch (err) {
      throw new HerdError('LIMIT_UNSUPPORTED', `cannot write "${value}" to ${path}: ${(err as Error).message}`);
    }
  }
}
