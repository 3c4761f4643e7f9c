import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, rmdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { toHex } from '../protocol/bytes.ts';
import { randomBytes } from '../protocol/cert.ts';
import { JobCgroup } from './cgroups/jobCgroup.ts';
import type { CgroupPlan } from './cgroups/plan.ts';

/**
 * A launcher waits for the path of a launch script on fd 3, then becomes it (the script ends by
 * exec'ing unshare). It is spawned with an empty environment and the pipes the job will use:
 * stdin, stderr (until the init opens its output FIFOs), fd 3 (the agent's "go") and fd 4 (the
 * init's reports).
 */
export const LAUNCHER_SCRIPT = 'read -r f <&3 || exit 0; . "$f"';

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
    let cgroup: JobCgroup;
    try {
      cgroup = spare.cgroup.adopt(jobPlan);
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
  }

  private async prepare(): Promise<void> {
    const jobId = toHex(randomBytes(6));
    let cgroup: JobCgroup;
    try {
      cgroup = JobCgroup.create(this.makeCgroup(jobId));
    } catch {
      return; // no spare: jobs start their own launchers
    }
    let child: ChildProcess;
    try {
      child = spawnLauncher(this.jobsDir);
    } catch {
      // bun and deno throw at once for a missing directory, where node reports 'error'.
      await cgroup.remove();
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
        void cgroup.remove();
      }
    });
    this.spare = { jobId, child, cgroup };
  }

  /**
   * Cgroups left by an agent that did not exit cleanly (its spare, or jobs it could not clean up):
   * rmdir removes only empty ones, so live jobs, and other agents' spares, are untouched.
   */
  private removeStaleSpares(): void {
    let parents: string[];
    try {
      parents = [...new Set(this.makeCgroup('probe').leaves.map((leaf) => dirname(leaf)))];
    } catch {
      return;
    }
    for (const parent of parents) {
      let names: string[];
      try {
        names = readdirSync(parent);
      } catch {
        continue;
      }
      for (const name of names.filter((n) => /^[0-9a-f]{12}$/.test(n))) {
        try {
          rmdirSync(`${parent}/${name}`);
        } catch {
          // not empty: a live job or another agent's spare
        }
      }
    }
  }
}
