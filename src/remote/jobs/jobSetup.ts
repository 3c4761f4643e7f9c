import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { HerdError } from '../../protocol/errors.ts';
import type { JobCgroup } from '../cgroups/jobCgroup.ts';
import type { JobNetwork } from '../net/manager.ts';
import { writeIdMaps } from '../sandbox/idmap.ts';
import { GO, parseInitReport } from '../sandbox/initControl.ts';
import { environmentBlock, type JobPlan } from './jobPlan.ts';

/** What the setup sequence tells the job it is setting up. */
export interface SetupEvents {
  /** The init is up as `pid` (host view) and holds its output FIFOs. */
  initUp(pid: number): void;
  /** The init's pid, once known. */
  initPid(): number | null;
  /** Milliseconds a setup phase took (setupMs, attachMs, networkMs). */
  phase(name: string, ms: number): void;
  /** "go" was said: the command starts. */
  running(): void;
  /** Why setup failed; `kill`: the launcher is killed too. `ifFirst`: only when nothing was said yet. */
  failed(error: HerdError, how?: { kill?: boolean; ifFirst?: boolean }): void;
}

export interface SetupInputs {
  plan: JobPlan;
  /** The launcher, with fd 3 (the agent's "go", then the environment) and fd 4 (the init's reports). */
  child: ChildProcess;
  cgroup: JobCgroup | null;
  /** The launcher already sits in the job's cgroup (a spare): nothing to join. */
  joined: boolean;
  /** Phase 1 of the network (the address), perhaps still under way; null without a network. */
  joining: Promise<JobNetwork> | null;
}

/**
 * The agent's side of a job's start-up, driven by the init's reports (sandbox/initControl.ts):
 * on "pid" the init joins the job's cgroup and phase 2 of its network runs from outside while the
 * init makes its mounts; on "ready" the agent waits for both, maps the job's users (mapped users:
 * once more on "userns"), and says "go" with the job's environment.
 */
export function driveSetup(inputs: SetupInputs, events: SetupEvents): void {
  const { plan, child, cgroup, joined, joining } = inputs;
  const began = performance.now();
  const control = child.stdio[3] as Writable;
  let attached: Promise<void> = Promise.resolve();
  let networked: Promise<void> = Promise.resolve();
  let mapUsers: ((nsPid: number) => void) | null = null;
  readLines(child.stdio[4] as Readable, (line) => {
    const report = parseInitReport(line);
    if (report.kind === 'pid') {
      const pid = report.pid;
      events.initUp(pid);
      // In its cgroup before the command exists: everything the job starts is counted and limited.
      if (cgroup !== null && !joined) {
        attached = cgroup.attach(pid).catch((err: Error) => {
          throw new HerdError('JOB_FAILED', `job setup failed at attach: cannot join the job's cgroup: ${err.message}`);
        });
      }
      // Phase 2 of the network, from outside, while the init makes its mounts.
      if (joining !== null) {
        const netBegan = performance.now();
        networked = joining
          .then((network) => network.attach(pid).then(() => events.phase('networkMs', Math.round(performance.now() - netBegan))))
          .catch((err: unknown) => {
            const reason = err instanceof HerdError ? err.message : String(err);
            throw new HerdError(err instanceof HerdError && err.code === 'INVALID_SPEC' ? 'INVALID_SPEC' : 'NETWORK', `job setup failed at network: ${reason}`);
          });
      }
    } else if (report.kind === 'ready') {
      events.phase('setupMs', Math.round(performance.now() - began));
      const readyAt = performance.now();
      const started = (): void => {
        events.phase('attachMs', Math.round(performance.now() - readyAt));
        // The last "go", and the job's environment for the command's last step (ENV_SCRIPT).
        control.end(`${GO}${environmentBlock(plan.env)}`);
        events.running();
      };
      const failed = (err: unknown): void => {
        events.failed(err instanceof HerdError ? err : new HerdError('JOB_FAILED', `job setup failed: ${String(err)}`), { kill: true });
      };
      if (plan.users.kind === 'mapped') {
        const ids = plan.users.ids;
        // The command is started in the job's cgroup, then stops once more in its user namespace.
        attached.then(() => void control.write(GO), failed);
        mapUsers = (nsPid) => {
          Promise.all([attached, networked])
            .then(() => {
              try {
                writeIdMaps(`/proc/${events.initPid()}/root/proc/${nsPid}`, ids);
              } catch (err) {
                throw new HerdError('ISOLATION_UNSUPPORTED', `job setup failed at userns: cannot map the job's users: ${(err as Error).message}`);
              }
            })
            .then(started, failed);
        };
      } else {
        Promise.all([attached, networked]).then(started, failed);
      }
    } else if (report.kind === 'userns') {
      mapUsers?.(report.pid);
      mapUsers = null;
    } else if (report.kind === 'fail') {
      events.failed(new HerdError('JOB_FAILED', `job setup failed at ${report.step}: ${report.message}`));
    } else if (report.text !== '') {
      // What setpriv or unshare said on the way into the user namespace.
      events.failed(
        new HerdError('ISOLATION_UNSUPPORTED', `job setup failed at userns: ${report.text.slice(0, 500)}`, {
          hint: 'herd needs user namespaces on the host (user.max_user_namespaces > 0, util-linux 2.36 or later)',
        }),
        { ifFirst: true },
      );
    }
  });
}

/** Calls `onLine` with each line of `stream`, without its newline. */
function readLines(stream: Readable, onLine: (line: string) => void): void {
  let pending = '';
  stream.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      onLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
    }
  });
  stream.on('error', () => {});
}
