import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { HerdError } from '../../protocol/errors.ts';
import type { JobInfo, JobResult, JobSignal } from '../../protocol/messages.ts';
import type { JobTerms } from './jobTerms.ts';
import { JobCgroup } from '../cgroups/jobCgroup.ts';
import type { CgroupPlan } from '../cgroups/plan.ts';
import { DEFAULT_MAX_LOG_BYTES, JobLog } from './logs/jobLog.ts';
import { JobOutputs, makeOutputPipes, removeOutputPipes } from './jobOutput.ts';
import { currentBootId, endState, recordedExitStatus, toInfo, writeRecord, type JobRecord } from './jobRecord.ts';
import { hostOwner, launchArgv, launchScript, ownsPidNamespace, type JobPlan } from './jobPlan.ts';
import { driveSetup } from './jobSetup.ts';
import type { HostTools } from '../system/hostTools.ts';
import type { Launch } from './launcher.ts';
import type { JobNetwork } from '../net/manager.ts';
import { processStart } from '../system/processes.ts';
import { after } from '../system/timers.ts';
import { prepareSandbox, removeSandbox } from '../sandbox/sandbox.ts';

/** Where an attached client hears of a job; `data` returns false to ask the job to pause. */
export interface JobSink {
  /** The job passed setup and its command is starting. */
  started(): void;
  /** Setup failed: the command never ran. */
  failed(error: HerdError): void;
  data(channel: 1 | 2, bytes: Uint8Array): boolean;
  exit(result: JobResult): void;
}

/** How an adopted job's network lease is given back when it ends. */
export type ReleaseLease = (network: string, jobId: string) => void;

/** Grace of a timeout's SIGTERM when the request names none. */
export const DEFAULT_GRACE_MS = 10_000;

/**
 * Where a job is in its life: in setup (its init prepares the sandbox; no command exists yet),
 * running (the init said "go"), or ended, with its result and whether its command ran at all.
 * A job taken over from a dead agent is running.
 */
type JobPhase = { name: 'setup' } | { name: 'running' } | { name: 'ended'; result: JobResult; ran: boolean };

/** What was asked of a job that may end it early: signals (from whom, for a stop), and its timeout. */
interface Asked {
  signalled: boolean;
  killed: boolean;
  stoppedBy: string | null;
  timedOut: boolean;
}

/**
 * A job, owned by the agent. It outlives the connection that started it and the agent itself:
 * its output goes through FIFOs its init holds open (see init.ts) into the job's log on disk,
 * and to an attached sink when there is one. A job is either launched by this agent, or adopted
 * from an agent that died while it ran (`Job.adopt`).
 *
 * Start-up has two phases. The init (PID 1) sets up the mounts, hostname and root and says
 * "ready" on fd 4; the agent runs the attach step with the init's pid and answers "go" on
 * fd 3; only then does the init start the command.
 */
export class Job {
  readonly plan: JobPlan;
  readonly dir: string;
  readonly startedAt: Date;
  private phase: JobPhase = { name: 'setup' };
  /** The launcher (unshare) of a job this agent started; null for an adopted one. */
  private child: ChildProcess | null = null;
  /** The init (PID 1 of the job) as the host sees it, and its start time (to tell a reused pid). */
  private initPid: number | null = null;
  private initStart: string | null = null;
  private outputs: JobOutputs | null = null;
  /** The two ends a job's finish waits for: its launcher's exit (or its init's recorded status) and the end of its output. */
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private outputEnded = false;
  private readonly log: JobLog;
  /** Milliseconds each start-up step took (setupMs, attachMs, networkMs, runMs): JobResult.phases. */
  private readonly timings: Record<string, number> = {};
  private sink: JobSink | null = null;
  private readonly asked: Asked = { signalled: false, killed: false, stoppedBy: null, timedOut: false };
  /** Why setup failed, once something said so. */
  private setupError: HerdError | null = null;
  private readonly terms: JobTerms;
  private readonly createdAt: string;
  private readonly bootId = currentBootId();
  private readonly watchers = new Set<() => void>();
  /** Cancels the timers of its timeout and of a stop's grace period. */
  private timers: Array<() => void> = [];
  private readonly cgroup: JobCgroup | null;
  private network: JobNetwork | null = null;
  private joining: Promise<JobNetwork> | null = null;
  /** An adopted job's network, released by name when it ends. */
  private adoptedLease: { network: string; release: ReleaseLease } | null = null;

  private constructor(plan: JobPlan, dir: string, terms: JobTerms, cgroup: JobCgroup | null, startedAt: Date, log: JobLog) {
    this.plan = plan;
    this.dir = dir;
    this.terms = terms;
    this.cgroup = cgroup;
    this.startedAt = startedAt;
    this.createdAt = terms.createdAt ?? startedAt.toISOString();
    this.log = log;
    if (terms.timeoutMs !== undefined) {
      this.later(Math.max(0, startedAt.getTime() + terms.timeoutMs - Date.now()), () => {
        this.asked.timedOut = true;
        this.stop(terms.graceMs ?? DEFAULT_GRACE_MS, null);
      });
    }
  }

  /**
   * Starts a job: `launch` is a launcher waiting for its script, a spare already in the job's
   * cgroup or a fresh one whose init joins the cgroup during setup. The caller has resolved the command.
   */
  static launch(plan: JobPlan, jobsDir: string, tools: HostTools, command: string, launch: Launch, joining: Promise<JobNetwork> | null, terms: JobTerms): Job {
    const dir = join(jobsDir, plan.jobId);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    prepareSandbox(plan.sandbox, dir, hostOwner(plan));
    makeOutputPipes(dir);
    const job = new Job(plan, dir, terms, launch.cgroup, new Date(), new JobLog(dir, terms.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES));
    job.writeRecord();
    job.start(tools, command, launch, joining);
    return job;
  }

  /**
   * Takes over a job whose agent died while it ran: its FIFOs are read again from where the
   * kernel kept them, its log continues, its timeout stands; its exit status comes from the
   * `status` line the init writes. The caller has checked that the init still runs.
   */
  static adopt(record: JobRecord, jobsDir: string, release: ReleaseLease): Job {
    const plan = record.plan!;
    const dir = join(jobsDir, record.id);
    const terms: JobTerms = {
      owner: record.owner,
      ownerCa: record.ownerCa ?? '',
      createdAt: record.createdAt,
      ...(record.scheduledFor === null ? {} : { scheduledFor: record.scheduledFor }),
      ...(record.timeoutMs === null ? {} : { timeoutMs: record.timeoutMs }),
      ...(record.graceMs === undefined ? {} : { graceMs: record.graceMs }),
    };
    const log = new JobLog(dir, record.log.maxBytes, { written: record.log.bytes, dropped: record.log.dropped });
    const cgroup = record.cgroup === undefined ? null : JobCgroup.existing(record.cgroup);
    const job = new Job(plan, dir, terms, cgroup, new Date(record.startedAt ?? record.createdAt), log);
    job.initPid = record.initPid ?? null;
    job.initStart = record.initStart ?? null;
    job.phase = { name: 'running' };
    Object.assign(job.timings, record.phases ?? {});
    if (record.leaseNetwork !== undefined) job.adoptedLease = { network: record.leaseNetwork, release };
    job.log.note(`herd: the agent watching this job ended; a new agent (pid ${process.pid}) took it over`);
    job.readOutputs();
    job.writeRecord();
    return job;
  }

  private start(tools: HostTools, command: string, launch: Launch, joining: Promise<JobNetwork> | null): void {
    const plan = this.plan;
    // The script names no secret: the environment (-e values) goes on fd 3 to the command's last step only.
    const script = join(this.dir, 'launch');
    writeFileSync(script, launchScript(this.dir, launchArgv(plan, this.dir, command, tools, launch.joined)), { mode: 0o600 });
    const child = launch.child;
    this.child = child;
    child.stdin!.on('error', () => {
      // a job that does not read stdin closes it early; that is not an error
    });
    const control = child.stdio[3] as Writable;
    control.on('error', () => {});
    control.write(`${script}\n`);
    // What the launcher and unshare say before the init has its output pipes (e.g. unshare failing).
    let launcherSaid = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      launcherSaid = (launcherSaid + chunk.toString('utf8')).slice(-2000);
    });
    // Phase 1 of the network (the address) may still be under way; its failure fails the job.
    this.joining = joining;
    joining?.then((network) => (this.network = network)).catch(() => {});
    driveSetup(
      { plan, child, cgroup: this.cgroup, joined: launch.joined, joining },
      {
        initUp: (pid) => {
          this.initPid = pid;
          this.initStart = processStart(pid);
          // The init holds its output FIFOs now, so opening them cannot wait.
          this.readOutputs();
        },
        initPid: () => this.initPid,
        phase: (name, ms) => void (this.timings[name] = ms),
        running: () => {
          this.phase = { name: 'running' };
          // With the init's pid recorded, a later agent can take the job over.
          this.writeRecord();
          this.sink?.started();
        },
        failed: (error, how = {}) => {
          if (how.ifFirst === true && this.setupError !== null) return;
          this.setupError = error;
          if (how.kill === true) child.kill('SIGKILL');
        },
      },
    );
    child.on('error', (err) => {
      this.setupError = new HerdError('JOB_FAILED', `could not start the job's launcher: ${err.message}`);
      this.exited(null, null);
    });
    child.on('close', (code, signal) => {
      if (this.phase.name === 'setup' && this.setupError === null && launcherSaid.trim() !== '') {
        this.setupError = new HerdError('JOB_FAILED', `job setup failed: ${launcherSaid.trim().split('\n').at(-1)}`);
      }
      this.exited(code, signal);
    });
  }

  get id(): string {
    return this.plan.jobId;
  }

  /** The job's outcome once it has ended, else null. */
  get result(): JobResult | null {
    return this.phase.name === 'ended' ? this.phase.result : null;
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
    if (this.phase.name === 'ended') return;
    if (this.asked.stoppedBy === null && by !== null) this.asked.stoppedBy = by;
    if (this.phase.name === 'setup' || graceMs === 0) {
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
    const phase = this.phase;
    if (phase.name === 'running' || (phase.name === 'ended' && phase.ran)) sink.started();
    if (phase.name === 'ended') sink.exit(phase.result);
  }

  detach(): void {
    this.sink = null;
    this.resume();
  }

  resume(): void {
    this.outputs?.resume();
  }

  writeStdin(bytes: Uint8Array, done: () => void): void {
    const stdin = this.child?.stdin;
    if (stdin === null || stdin === undefined || stdin.destroyed || stdin.writableEnded) {
      done();
      return;
    }
    stdin.write(bytes, () => done());
  }

  endStdin(): void {
    this.child?.stdin?.end();
  }

  signal(signal: JobSignal): void {
    if (this.phase.name === 'ended') return;
    this.asked.signalled = true;
    if (signal === 'KILL') this.asked.killed = true;
    if (signal === 'KILL' && !ownsPidNamespace(this.plan)) {
      this.killHostProcesses();
      return;
    }
    if (signal === 'KILL' && this.child !== null && this.child.pid !== undefined) {
      // --kill-child turns the death of unshare into SIGKILL for PID 1, and so for the whole namespace.
      this.child.kill('SIGKILL');
      return;
    }
    // The init forwards TERM, INT and HUP to the command; SIGKILL from outside ends the namespace.
    if (this.initPid !== null && processStart(this.initPid) === this.initStart) {
      try {
        process.kill(this.initPid, `SIG${signal}`);
      } catch {
        // already gone
      }
    }
  }

  private readOutputs(): void {
    try {
      this.outputs = new JobOutputs(this.dir, (channel, chunk) => this.output(channel, chunk), () => {
        this.outputEnded = true;
        this.maybeFinish();
      });
    } catch (err) {
      this.setupError = new HerdError('JOB_FAILED', `cannot read the job's output: ${(err as Error).message}`);
      this.outputEnded = true;
      this.signal('KILL');
    }
  }

  private later(ms: number, fn: () => void): void {
    this.timers.push(after(ms, fn));
  }

  private changed(): void {
    for (const watcher of this.watchers) watcher();
  }

  private output(channel: 1 | 2, chunk: Uint8Array): void {
    this.log.write(channel, chunk);
    this.changed();
    if (this.sink !== null && !this.sink.data(channel, chunk)) this.outputs?.pause();
  }

  /**
   * Host mode and --pid host have no PID namespace whose end takes everything with it: what the command started is
   * found by its cgroup and by the launcher's process group (it is a session leader), and killed.
   */
  private killHostProcesses(): void {
    this.cgroup?.killAll();
    const leader = this.initPid ?? this.child?.pid ?? null;
    if (leader === null) return;
    // Only while the leader is the process we started: its pid may have been given to another.
    if (this.initPid !== null && processStart(this.initPid) !== this.initStart && this.child === null) return;
    try {
      process.kill(-leader, 'SIGKILL');
    } catch {
      // the group is gone
    }
  }

  /** The launcher exited; the job is over once its output has been read to the end too. */
  private exited(code: number | null, signal: NodeJS.Signals | null): void {
    this.exit = { code, signal };
    // What a command without a PID namespace of its own (host mode, --pid host) left running would
    // hold its output open (and the job) forever.
    if (!ownsPidNamespace(this.plan)) this.killHostProcesses();
    // Without output pipes (setup failed before the init opened them) there is nothing to wait for.
    if (this.outputs === null) this.outputEnded = true;
    else this.outputs.writersGone();
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (!this.outputEnded || this.phase.name === 'ended') return;
    // An adopted job has no launcher to report; its init wrote the exit status to a file.
    if (this.child === null) this.exit ??= { code: recordedExitStatus(this.dir), signal: this.asked.killed ? 'SIGKILL' : null };
    if (this.exit === null) return;
    this.finish(this.exit.code, this.exit.signal);
  }

  private finish(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.phase.name === 'ended') return;
    const endedAt = new Date();
    // Anything that ends before "go" is a setup failure, whatever the status.
    const ran = this.phase.name === 'running';
    const setupFailed = !ran;
    if (ran) this.timings.runMs = Math.round(endedAt.getTime() - this.startedAt.getTime() - (this.timings.setupMs ?? 0) - (this.timings.attachMs ?? 0));
    const measured = this.cgroup?.usage();
    const result: JobResult = {
      jobId: this.id,
      exitCode: setupFailed ? null : code,
      signal: signal === null || setupFailed ? null : signal.replace(/^SIG/, ''),
      oomKilled: measured?.oomKilled ?? false,
      timedOut: this.asked.timedOut,
      stopped: this.asked.signalled,
      startedAt: this.startedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      durationMs: endedAt.getTime() - this.startedAt.getTime(),
      phases: { ...this.timings },
      ...(measured === undefined ? {} : { usage: measured.usage }),
    };
    this.phase = { name: 'ended', result, ran };
    void this.cgroup?.remove();
    if (setupFailed) this.log.note((this.setupError ?? new HerdError('JOB_FAILED', 'job setup failed')).message);
    this.log.close();
    removeSandbox(this.plan.sandbox, this.dir);
    removeOutputPipes(this.dir);
    // The veth went with the job's network namespace; the address is free again (also when phase 1
    // finishes only after a failed job).
    void this.joining?.then((network) => network.release(), () => {});
    if (this.adoptedLease !== null) this.adoptedLease.release(this.adoptedLease.network, this.id);
    for (const cancel of this.timers) cancel();
    this.timers = [];
    this.writeRecord();
    this.changed();
    this.watchers.clear();
    if (setupFailed) this.sink?.failed(this.setupError ?? new HerdError('JOB_FAILED', 'job setup failed before the command started'));
    else this.sink?.exit(result);
  }

  /** `live`: with the running job's usage so far (read from its cgroup; not worth it for the on-disk record). */
  private record(live = true): JobRecord {
    const phase = this.phase;
    const result = phase.name === 'ended' ? phase.result : null;
    const ended =
      phase.name !== 'ended'
        ? { state: 'RUNNING' as const, reason: null }
        : endState(phase.result, phase.ran ? null : (this.setupError?.message ?? 'job setup failed'), this.terms.timeoutMs ?? null, this.asked.stoppedBy);
    const now = result === null && live ? this.cgroup?.usage() : undefined;
    const usage = result?.usage ?? now?.usage;
    const leaseNetwork = this.network?.spec.name ?? this.adoptedLease?.network;
    return {
      id: this.id,
      argv: this.plan.argv,
      state: ended.state,
      reason: ended.reason,
      owner: this.terms.owner,
      ...(this.terms.ownerCa === '' ? {} : { ownerCa: this.terms.ownerCa }),
      hostname: this.plan.hostname,
      network: this.plan.network,
      ...(this.plan.isolation === 'none' ? { isolation: 'none' as const } : {}),
      ip: this.network?.ip ?? null,
      createdAt: this.createdAt,
      scheduledFor: this.terms.scheduledFor ?? null,
      startedAt: this.startedAt.toISOString(),
      endedAt: result?.endedAt ?? null,
      durationMs: result?.durationMs ?? null,
      exitCode: result?.exitCode ?? null,
      signal: result?.signal ?? null,
      oomKilled: result?.oomKilled ?? false,
      timedOut: this.asked.timedOut,
      timeoutMs: this.terms.timeoutMs ?? null,
      ...(usage === undefined ? {} : { usage }),
      log: { bytes: this.log.bytes, maxBytes: this.log.maxBytes, dropped: this.log.stopped !== null },
      ...(this.plan.seccomp === undefined ? {} : { seccomp: this.plan.seccomp }),
      devices: deviceInfo(this.cgroup),
      agentPid: process.pid,
      bootId: this.bootId,
      // What a later agent needs to take the job over; the environment stays out of the record.
      ...(result === null
        ? {
            plan: { ...this.plan, env: {} },
            ...(this.cgroup === null ? {} : { cgroup: this.cgroup.plan }),
            ...(this.initPid === null ? {} : { initPid: this.initPid }),
            ...(this.initStart === null ? {} : { initStart: this.initStart }),
            ...(leaseNetwork === undefined ? {} : { leaseNetwork }),
            ...(this.terms.graceMs === undefined ? {} : { graceMs: this.terms.graceMs }),
            phases: { ...this.timings },
          }
        : {}),
    };
  }

  private writeRecord(): void {
    writeRecord(this.dir, this.record(false));
  }
}

function deviceInfo(cgroup: JobCgroup | null): NonNullable<JobInfo['devices']> {
  if (cgroup === null) return { enforced: false, problem: 'the job has no cgroup (an agent without root, or no cgroup hierarchy)' };
  // A job taken over from an older agent has no record of it.
  const devices = cgroup.plan.devices as CgroupPlan['devices'] | undefined;
  if (devices === undefined) return { enforced: false, problem: 'started by an older agent' };
  if (devices.kind === 'none') return { enforced: false, problem: devices.problem };
  return { enforced: true, how: devices.kind === 'v1' ? 'cgroup v1' : 'cgroup v2 eBPF' };
}
