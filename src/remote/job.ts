import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HerdError } from '../protocol/errors.ts';
import type { JobResult, JobSignal } from '../protocol/messages.ts';
import { resolveCommand } from './command.ts';
import { JobLog } from './jobLog.ts';
import { unshareArgs, type JobPlan } from './jobPlan.ts';

/** Where an attached client receives a job's output; `data` returns false to ask the job to pause. */
export interface JobSink {
  data(channel: 1 | 2, bytes: Uint8Array): boolean;
  exit(result: JobResult): void;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function findUnshare(): string {
  try {
    return resolveCommand('unshare', process.env.PATH ?? '/usr/bin:/bin:/usr/sbin:/sbin');
  } catch {
    throw new HerdError('JOB_FAILED', 'unshare(1) is not installed on this host: install util-linux');
  }
}

/**
 * A running job, owned by the agent. It outlives the connection that started it:
 * output always goes to the job's files on disk, and to an attached sink when there is one.
 */
export class Job {
  readonly plan: JobPlan;
  readonly dir: string;
  readonly startedAt = new Date();
  result: JobResult | null = null;
  private readonly child: ChildProcess;
  private readonly log: JobLog;
  private sink: JobSink | null = null;
  private stopRequested = false;

  constructor(plan: JobPlan, jobsDir: string) {
    this.plan = plan;
    this.dir = join(jobsDir, plan.jobId);
    resolveCommand(plan.argv[0]!, plan.env.PATH ?? '');
    const unshare = findUnshare();
    mkdirSync(join(this.dir, 'work'), { recursive: true, mode: 0o700 });
    if (!isDirectory(plan.cwd)) throw new HerdError('INVALID_SPEC', `--workdir: ${plan.cwd} is not a directory on the host`);
    this.log = new JobLog(this.dir);
    this.writeRecord();
    this.child = spawn(unshare, unshareArgs(plan), { cwd: plan.cwd, env: plan.env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdin!.on('error', () => {
      // a job that does not read stdin closes it early; that is not an error
    });
    this.child.stdout!.on('data', (chunk: Uint8Array) => this.output(1, chunk));
    this.child.stderr!.on('data', (chunk: Uint8Array) => this.output(2, chunk));
    this.child.on('error', (err) => this.finish(null, null, `could not start unshare: ${err.message}`));
    this.child.on('close', (code, signal) => this.finish(code, signal, null));
  }

  get id(): string {
    return this.plan.jobId;
  }

  attach(sink: JobSink): void {
    this.sink = sink;
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

  private output(channel: 1 | 2, chunk: Uint8Array): void {
    this.log.write(channel, chunk);
    if (this.sink !== null && !this.sink.data(channel, chunk)) {
      this.child.stdout?.pause();
      this.child.stderr?.pause();
    }
  }

  private finish(code: number | null, signal: NodeJS.Signals | null, failure: string | null): void {
    if (this.result !== null) return;
    const endedAt = new Date();
    this.result = {
      jobId: this.id,
      exitCode: failure !== null ? 127 : code,
      signal: signal === null ? null : signal.replace(/^SIG/, ''),
      oomKilled: false,
      timedOut: false,
      stopped: this.stopRequested,
      startedAt: this.startedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      durationMs: endedAt.getTime() - this.startedAt.getTime(),
    };
    if (failure !== null) this.log.note(`herd: ${failure}`);
    this.log.close();
    this.writeRecord();
    this.sink?.exit(this.result);
  }

  private writeRecord(): void {
    const record = {
      id: this.id,
      argv: this.plan.argv,
      cwd: this.plan.cwd,
      startedAt: this.startedAt.toISOString(),
      result: this.result,
      logBytes: this.log.bytes,
      logStopped: this.log.stopped,
    };
    try {
      writeFileSync(join(this.dir, 'job.json'), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    } catch {
      // a full disk loses the record, not the job; the client still gets the result
    }
  }
}
