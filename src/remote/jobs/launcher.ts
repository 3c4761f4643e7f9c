import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { JobCgroup } from '../cgroups/jobCgroup.ts';
import type { CgroupPlan } from '../cgroups/plan.ts';
import { isLiveHelper } from '../system/processes.ts';
import { newJobId, isJobId } from './jobId.ts';

/**
 * A launcher waits for the path of a launch script on fd 3, then becomes it (the script ends by
 * exec'ing unshare). It is spawned with an empty environment and the pipes the job will use:
 * stdin, stderr (until the init opens its output FIFOs), fd 3 (then the agent's "go", and at last
 * the job's environment: see init.ts ENV_SCRIPT) and fd 4 (the init's reports). Nothing of the
 * user's reaches anything that runs as host root: the job's environment is applied by the last
 * step before the command, inside the job's user namespace, after every privilege is dropped.
 */
export const LAUNCHER_SCRIPT = 'read -r f <&3 || exit 0; . "$f"';

/** An empty job-id cgroup this old that no registry names is removed when an agent starts. */
const ABANDONED_AFTER_MS = 3600_000;

export function spawnLauncher(cwd: string): ChildProcess {
  // detached: a session of its own, so a signal to the agent's process group never reaches a job.
  // stdout is not read: the job's output goes to FIFOs (see init.ts); stderr carries what the
  // launcher and unshare say before the init has them.
  return spawn('/bin/sh', ['-c', LAUNCHER_SCRIPT], { cwd, env: {}, detached: true, stdio: ['pipe', 'ignore', 'pipe', 'pipe', 'pipe'] });
}

/** A launcher for one job, and its cgroup: `joined` when the launcher is already in it. */
export interface Launch {
  child: ChildProcess;
  cgroup: JobCgroup | null;
  joined: boolean;
}

/**
 * Keeps one spare launcher waiting inside a spare cgroup. Joining a cgroup makes the kernel wait
 * for an RCU grace period (~15 ms here); a spare pays that while nothing waits on it. The spare's
 * cgroup is created under the id of the job that will take it (cgroup v2 cannot rename one), so a
 * job takes the spare's id, and then only its limits are written.
 */
export class LauncherPool {
  private spare: { jobId: string; child: ChildProcess; cgroup: JobCgroup } | null = null;
  private preparing: Promise<void> | null = null;
  private closed = false;
  private readonly jobsDir: string;
  private readonly makeCgroup: (name: string) => CgroupPlan;

  constructor(jobsDir: string, makeCgroup: (name: string) => CgroupPlan) {
    this.jobsDir = jobsDir;
    this.makeCgroup = makeCgroup;
    this.removeStaleSpares();
  }

  /** Prepares a spare in the background if there is none. */
  refill(): void {
    if (this.spare !== null || this.preparing !== null || this.closed) return;
    this.preparing = this.prepare().finally(() => {
      this.preparing = null;
    });
  }

  /** The id the next job gets if it takes the spare; null when no spare is ready. */
  peek(): string | null {
    return this.spare !== null && this.spare.child.exitCode === null ? this.spare.jobId : null;
  }

  /** The spare, made the job's (its plan must be for the spare's id); null when none is ready. */
  take(jobPlan: CgroupPlan): Launch | null {
    const spare = this.spare;
    if (spare === null || spare.child.exitCode !== null) return null;
    this.spare = null;
    // A job's cgroup now, looked after by the job.
    this.unregister(spare.jobId);
    let cgroup: JobCgroup;
    try {
      cgroup = spare.cgroup.becomeJobs(jobPlan);
    } catch (err) {
      spare.child.kill('SIGKILL');
      throw err;
    } finally {
      this.refill();
    }
    return { child: spare.child, cgroup, joined: true };
  }

  /** Ends the spare launcher and removes its cgroup (it is empty once the launcher has exited). */
  async close(): Promise<void> {
    this.closed = true;
    // A spare still being prepared sees `closed` and undoes itself.
    await this.preparing;
    const spare = this.spare;
    this.spare = null;
    if (spare === null) return;
    const exited = new Promise<void>((resolve) => {
      if (spare.child.exitCode !== null || spare.child.signalCode !== null) resolve();
      else spare.child.once('exit', () => resolve());
    });
    spare.child.kill('SIGKILL');
    await exited;
    await spare.cgroup.remove();
    this.unregister(spare.jobId);
  }

  private async prepare(): Promise<void> {
    const jobId = newJobId();
    let cgroup: JobCgroup;
    this.register(jobId);
    try {
      cgroup = JobCgroup.create(this.makeCgroup(jobId));
    } catch {
      this.unregister(jobId);
      return; // no spare: jobs start their own launchers
    }
    let child: ChildProcess;
    try {
      child = spawnLauncher(this.jobsDir);
    } catch {
      // bun and deno throw at once for a missing directory, where node reports 'error'.
      await cgroup.remove();
      this.unregister(jobId);
      return;
    }
    // A launcher that could not even start (its directory gone) reports 'error' and never 'exit'.
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    const undo = async (): Promise<void> => {
      child.kill('SIGKILL');
      await exited;
      await cgroup.remove();
      this.unregister(jobId);
    };
    try {
      if (child.pid === undefined) throw new Error('the launcher did not start');
      await cgroup.attach(child.pid);
    } catch {
      await undo();
      return;
    }
    if (this.closed) {
      await undo();
      return;
    }
    // A spare that dies unused takes its cgroup with it.
    child.once('exit', () => {
      if (this.spare?.child === child) {
        this.spare = null;
        void cgroup.remove().then(() => this.unregister(jobId));
      }
    });
    this.spare = { jobId, child, cgroup };
  }

  /**
   * Spare cgroups are registered in jobs/.spares/<id> (holding the agent's pid) while they
   * exist. At start, those of agents that are gone (SIGKILL, a crash) are removed. Only these:
   * a cgroup hierarchy may be shared with other agents (another herd version, or other hosts'
   * agents on one machine, as in the testbed), whose new job cgroups are empty for a moment
   * too, so an empty cgroup is not proof of anything.
   */
  private removeStaleSpares(): void {
    this.removeAbandonedCgroups();
    let names: string[];
    try {
      names = readdirSync(this.sparesDir);
    } catch {
      return;
    }
    for (const name of names.filter(isJobId)) {
      const owner = Number(readFileSync(join(this.sparesDir, name), 'utf8').trim());
      if (isLiveHelper(owner)) continue;
      // Its launcher may still be on its way out: remove() kills what is left, then removes it.
      void JobCgroup.existing(this.makeCgroup(name)).remove().then(() => this.unregister(name));
    }
  }

  /**
   * What no registry names (a state directory wiped while its agent's spare existed, a crash of an
   * older herd): job-id cgroups that are empty and were made long ago. A job's cgroup is empty only
   * for the moment before its init joins it, so an hour-old empty one belongs to no one.
   */
  private removeAbandonedCgroups(): void {
    let parents: string[];
    try {
      parents = [...new Set(this.makeCgroup('probe').leaves.map((leaf) => dirname(leaf)))];
    } catch {
      return;
    }
    const cutoff = Date.now() - ABANDONED_AFTER_MS;
    for (const parent of parents) {
      let names: string[];
      try {
        names = readdirSync(parent).filter(isJobId);
      } catch {
        continue;
      }
      for (const name of names) {
        try {
          if (statSync(`${parent}/${name}`).mtimeMs < cutoff) rmdirSync(`${parent}/${name}`);
        } catch {
          // not empty (a live job), or gone
        }
      }
    }
  }

  private get sparesDir(): string {
    return join(this.jobsDir, '.spares');
  }

  private register(jobId: string): void {
    try {
      mkdirSync(this.sparesDir, { recursive: true, mode: 0o700 });
      writeFileSync(join(this.sparesDir, jobId), `${process.pid}\n`, { mode: 0o600 });
    } catch {
      // unregistered, a spare left by a crash stays until removed by hand
    }
  }

  private unregister(jobId: string): void {
    try {
      unlinkSync(join(this.sparesDir, jobId));
    } catch {
      // already gone
    }
  }
}
