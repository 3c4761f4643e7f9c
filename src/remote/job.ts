import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { HerdError } from '../protocol/errors.ts';
import type { JobInfo, JobResult, JobSignal } from '../protocol/messages.ts';
import { resolveCommand } from './command.ts';
import type { JobCgroup } from './cgroups/jobCgroup.ts';
import { SETUP_FAILED_STATUS } from './init.ts';
import { DEFAULT_MAX_LOG_BYTES, JobLog } from './jobs/jobLog.ts';
import { currentBootId, endState, toInfo, writeRecord, type JobRecord } from './jobs/jobRecord.ts';
import { jobArgv, launchScript, type HostTools, type JobPlan } from './jobPlan.ts';
import type { Launch } from './launcher.ts';
import type { JobNetwork } from './net/manager.ts';
import { prepareSandbox, removeSandbox } from './sandbox.ts';

/** Where an attached client hears of a job; `data` returns false to ask the job to pause. */
export interface JobSink {
  /** The job passed setup and its command is starting. */
  started(): void;
  /** Setup failed: the command never ran. */
  failed(error: HerdError): void;
  data(channel: 1 | 2, bytes: Uint8Array): boolean;
  exit(result: JobResult): void;
}

/** Who started a job and how it is to be looked after. */
export interface JobTerms {
  owner: string;
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL when the timeout stops the job. */
  graceMs?: number;
  maxLogBytes?: number;
  /** When a scheduled job was created and for when (it starts now, late or on time). */
  createdAt?: string;
  scheduledFor?: string;
}

/** Grace of a timeout's SIGTERM when the request names none. */
export const DEFAULT_GRACE_MS = 10_000;

const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function findHostTools(): HostTools {
  const find = (name: string): string => {
    try {
      // The real path: a symlink in, say, /tmp would not be visible inside the job.
      return realpathSync(resolveCommand(name, `${process.env.PATH ?? ''}:${HOST_PATH}`));
    } catch {
      throw new HerdError('JOB_FAILED', `${name}(1) is not installed on this host: install util-linux`);
    }
  };
  return { unshare: find('unshare'), setpriv: find('setpriv') };
}

/**
 * A job, owned by the agent. It outlives the connection that started it: output always
 * goes to the job's log on disk, and to an attached sink when there is one.
 *
 * Start-up has two phases. The init (PID 1) sets up the mounts, hostname and root and says
 * "ready" on fd 4; the agent runs the attach step with the init's pid and answers "go" on
 * fd 3; only then does the init start the command.
 */
export class Job {
  readonly plan: JobPlan;
  readonly dir: string;
  readonly startedAt = new Date();
  result: JobResult | null = null;
  private readonly child: ChildProcess;
  private readonly log: JobLog;
  private readonly phases: Record<string, number> = {};
  private sink: JobSink | null = null;
  private stopRequested = false;
  private stoppedBy: string | null = null;
  private timedOut = false;
  private setupError: HerdError | null = null;
  private isRunning = false;
  /** Set when the job ended before its command could start. */
  private setupFailed = false;
  private readonly terms: JobTerms;
  private readonly createdAt: string;
  private readonly bootId = currentBootId();
  private readonly watchers = new Set<() => void>();
  private timers: Array<ReturnType<typeof setTimeout>> = [];

  private readonly cgroup: JobCgroup | null;

  /**
   * `launch` is a launcher waiting for its script: a spare already in the job's cgroup, or a fresh
   * one whose init joins the cgroup during setup. The caller has resolved the command.
   */
  private network: JobNetwork | null = null;
  private joining: Promise<JobNetwork> | null = null;

  constructor(plan: JobPlan, jobsDir: string, tools: HostTools, command: string, launch: Launch, joining: Promise<JobNetwork> | null, terms: JobTerms) {
    this.plan = plan;
    this.terms = terms;
    this.createdAt = terms.createdAt ?? this.startedAt.toISOString();
    this.dir = join(jobsDir, plan.jobId);
    this.cgroup = launch.cgroup;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    prepareSandbox(plan.sandbox, this.dir, plan.user);
    this.log = new JobLog(this.dir, terms.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES);
    this.writeRecord();
    if (terms.timeoutMs !== undefined) {
      this.later(terms.timeoutMs, () => {
        this.timedOut = true;
        this.stop(terms.graceMs ?? DEFAULT_GRACE_MS, null);
      });
    }
    const script = join(this.dir, 'launch');
    writeFileSync(script, launchScript(plan, this.dir, [tools.unshare, ...jobArgv(plan, this.dir, command, tools, launch.joined)]), { mode: 0o600 });
    const began = performance.now();
    this.child = launch.child;
    this.child.stdin!.on('error', () => {
      // a job that does not read stdin closes it early; that is not an error
    });
    const control = this.child.stdio[3] as Writable;
    control.on('error', () => {});
    control.write(`${script}\n`);
    this.child.stdout!.on('data', (chunk: Uint8Array) => this.output(1, chunk));
    this.child.stderr!.on('data', (chunk: Uint8Array) => this.output(2, chunk));
    let attached: Promise<void> = Promise.resolve();
    let networked: Promise<void> = Promise.resolve();
    // Phase 1 of the network (the address) may still be under way; its failure fails the job.
    this.joining = joining;
    joining?.then((network) => (this.network = network)).catch(() => {});
    this.readReports(this.child.stdio[4] as Readable, (line) => {
      if (line.startsWith('pid ')) {
        const pid = Number(line.slice(4));
        // In its cgroup before the command exists: everything the job starts is counted and limited.
        if (this.cgroup !== null && !launch.joined) {
          attached = this.cgroup.attach(pid).catch((err: Error) => {
            throw new HerdError('JOB_FAILED', `job setup failed at attach: cannot join the job's cgroup: ${err.message}`);
          });
        }
        // Phase 2 of the network, from outside, while the init makes its mounts.
        if (joining !== null) {
          const netBegan = performance.now();
          networked = joining.then(
            (network) => network.attach(pid).then(() => void (this.phases.networkMs = Math.round(performance.now() - netBegan))),
            (err: unknown) => {
              throw err;
            },
          ).catch((err: unknown) => {
            const reason = err instanceof HerdError ? err.message : String(err);
            throw new HerdError(err instanceof HerdError && err.code === 'INVALID_SPEC' ? 'INVALID_SPEC' : 'NETWORK', `job setup failed at network: ${reason}`);
          });
        }
      } else if (line === 'ready') {
        this.phases.setupMs = Math.round(performance.now() - began);
        const readyAt = performance.now();
        Promise.all([attached, networked]).then(
          () => {
            this.phases.attachMs = Math.round(performance.now() - readyAt);
            control.end('go\n');
            this.isRunning = true;
            this.sink?.started();
          },
          (err: unknown) => {
            this.setupError = err instanceof HerdError ? err : new HerdError('JOB_FAILED', `job setup failed: ${String(err)}`);
            this.child.kill('SIGKILL');
          },
        );
      } else if (line.startsWith('fail ')) {
        const [, step, ...words] = line.split(' ');
        this.setupError = new HerdError('JOB_FAILED', `job setup failed at ${step}: ${words.join(' ')}`);
      }
    });
    this.child.on('error', (err) => {
      this.setupError = new HerdError('JOB_FAILED', `could not start the job's launcher: ${err.message}`);
      this.finish(null, null);
    });
    this.child.on('close', (code, signal) => this.finish(code, signal));
  }

  get id(): string {
    return this.plan.jobId;
  }

  get running(): boolean {
    return this.isRunning;
  }

  /** Calls `changed` whenever output is recorded or the job ends; returns the way to stop. */
  watch(changed: () => void): () => void {
    this.watchers.add(changed);
    return () => this.watchers.delete(changed);
  }

  /**
   * SIGTERM to the command, SIGKILL to everything after `graceMs`. A job still in setup has no
   * command to ask: it is killed at once.
   */
  stop(graceMs: number, by: string | null): void {
    if (this.result !== null) return;
    if (this.stoppedBy === null && by !== null) this.stoppedBy = by;
    if (!this.isRunning || graceMs === 0) {
      this.signal('KILL');
      return;
    }
    this.signal('TERM');
    this.later(graceMs, () => this.signal('KILL'));
  }

  info(): JobInfo {
    return toInfo(this.record());
  }

  attach(sink: JobSink): void {
    this.sink = sink;
    if (this.isRunning) sink.started();
    if (this.result !== null) sink.exit(this.result);
  }

  detach(): void {
    this.sink = null;
    this.resume();
  }

  resume(): void {
    this.child.stdout?.resume();
    this.child.stderr?.resume();
  }

  writeStdin(bytes: Uint8Array, done: () => void): void {
    const stdin = this.child.stdin;
    if (stdin === null || stdin.destroyed || stdin.writableEnded) {
      done();
      return;
    }
    stdin.write(bytes, () => done());
  }

  endStdin(): void {
    this.child.stdin?.end();
  }

  signal(signal: JobSignal): void {
    if (this.result !== null || this.child.pid === undefined) return;
    this.stopRequested = true;
    if (signal === 'KILL') {
      // --kill-child turns the death of unshare into SIGKILL for PID 1, and so for the whole namespace.
      this.child.kill('SIGKILL');
      return;
    }
    const init = this.initPid();
    if (init !== null) process.kill(init, `SIG${signal}`);
  }

  private readReports(stream: Readable, onLine: (line: string) => void): void {
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

  private initPid(): number | null {
    const pid = this.child.pid;
    try {
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
      const first = Number(children[0]);
      return Number.isInteger(first) && first > 0 ? first : null;
    } catch {
      return null;
    }
  }

  private later(ms: number, fn: () => void): void {
    // setTimeout fires at once for delays past 2^31 - 1 ms (24.8 days); such a timer waits in steps.
    const step = Math.min(ms, 2 ** 31 - 1);
    this.timers.push(setTimeout(() => (step < ms ? this.later(ms - step, fn) : fn()), step));
  }

  private changed(): void {
    for (const watcher of this.watchers) watcher();
  }

  private output(channel: 1 | 2, chunk: Uint8Array): void {
    this.log.write(channel, chunk);
    this.changed();
    if (this.sink !== null && !this.sink.data(channel, chunk)) {
      this.child.stdout?.pause();
      this.child.stderr?.pause();
    }
  }

  private finish(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.result !== null) return;
    const endedAt = new Date();
    if (this.isRunning) this.phases.runMs = Math.round(endedAt.getTime() - this.startedAt.getTime() - (this.phases.setupMs ?? 0) - (this.phases.attachMs ?? 0));
    const setupFailed = !this.isRunning && (this.setupError !== null || code === SETUP_FAILED_STATUS);
    this.setupFailed = setupFailed;
    const measured = this.cgroup?.usage();
    this.result = {
      jobId: this.id,
      exitCode: setupFailed ? null : code,
      signal: signal === null || setupFailed ? null : signal.replace(/^SIG/, ''),
      oomKilled: measured?.oomKilled ?? false,
      timedOut: this.timedOut,
      stopped: this.stopRequested,
      startedAt: this.startedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      durationMs: endedAt.getTime() - this.startedAt.getTime(),
      phases: { ...this.phases },
      ...(measured === undefined ? {} : { usage: measured.usage }),
    };
    void this.cgroup?.remove();
    if (setupFailed) this.log.note((this.setupError ?? new HerdError('JOB_FAILED', 'job setup failed')).message);
    this.log.close();
    removeSandbox(this.plan.sandbox, this.dir);
    // The veth went with the job's network namespace; the address is free again (also when phase 1
    // finishes only after a failed job).
    void this.joining?.then((network) => network.release(), () => {});
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
    this.writeRecord();
    this.changed();
    this.watchers.clear();
    if (setupFailed) this.sink?.failed(this.setupError ?? new HerdError('JOB_FAILED', 'job setup failed before the command started'));
    else this.sink?.exit(this.result);
  }

  private record(): JobRecord {
    const result = this.result;
    const ended =
      result === null
        ? { state: 'RUNNING' as const, reason: null }
        : endState(result, this.setupFailed ? (this.setupError?.message ?? 'job setup failed') : null, this.terms.timeoutMs ?? null, this.stoppedBy);
    const live = result === null ? this.cgroup?.usage() : undefined;
    const usage = result?.usage ?? live?.usage;
    return {
      id: this.id,
      argv: this.plan.argv,
      state: ended.state,
      reason: ended.reason,
      owner: this.terms.owner,
      hostname: this.plan.hostname,
      network: this.plan.network,
      ip: this.network?.ip ?? null,
      createdAt: this.createdAt,
      scheduledFor: this.terms.scheduledFor ?? null,
      startedAt: this.startedAt.toISOString(),
      endedAt: result?.endedAt ?? null,
      durationMs: result?.durationMs ?? null,
      exitCode: result?.exitCode ?? null,
      signal: result?.signal ?? null,
      oomKilled: result?.oomKilled ?? false,
      timedOut: this.timedOut,
      timeoutMs: this.terms.timeoutMs ?? null,
      ...(usage === undefined ? {} : { usage }),
      log: { bytes: this.log.bytes, maxBytes: this.log.maxBytes, dropped: this.log.stopped !== null },
      agentPid: process.pid,
      bootId: this.bootId,
    };
  }

  private writeRecord(): void {
    writeRecord(this.dir, this.record());
  }
}
