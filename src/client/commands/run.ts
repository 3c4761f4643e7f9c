import { asHerdError, HerdError } from '../../protocol/errors.ts';
import { jsonDocument } from '../output/jsonDocument.ts';
import type { JobResult } from '../../protocol/messages.ts';
import { helperAsset } from '../buildInfo.ts';
import { loadConfig } from '../config/config.ts';
import { rememberJobs } from '../state/jobIndex.ts';
import { eachLimited } from '../connection/fanout.ts';
import type { RemoteJob } from '../jobs/remoteJob.ts';
import { HostConnection } from '../connection/hostConnection.ts';
import { Interrupts } from '../jobs/interrupt.ts';
import { sshOptions, targetsOf } from './context.ts';
import { dryRunOf, renderDryRun } from '../output/dryRun.ts';
import { ensureIdentity } from '../config/identity.ts';
import { EXIT_INTERRUPTED, exitStatus, overallStatus, type HostOutcome } from '../output/outcome.ts';
import { errorLine } from '../output/render.ts';
import { rememberFailed } from '../state/lastRun.ts';
import { runOutput, type RunOutput } from '../output/runOutput.ts';
import type { HostTarget } from '../hosts/targets.ts';
import type { ConnectContext } from '../connection/hostConnection.ts';
import { pumpStdin } from '../jobs/stdinPump.ts';
import type { CommandModule, CommandResult, Io } from './types.ts';
import { isTerminal } from '../output/terminal.ts';
import { planRun, readRunFlags, runFlags, type RunOptions, type RunPlan } from './runFlags.ts';
import { HashCache } from '../data/hashCache.ts';
import { stageUpload } from '../data/stageUpload.ts';
import { SharedReads } from '../data/sharedReads.ts';
import { UploadProgress } from '../output/uploadProgress.ts';
import { receiveJobFiles } from '../data/receiveFiles.ts';
import { outputFileName } from '../output/runOutput.ts';
import { join } from 'node:path';
import { walkUploads, type UploadSet } from '../data/uploadSet.ts';

/** What the hosts of one run share: the plan, the connection context, where output goes, Ctrl-C. */
interface RunContext {
  plan: RunPlan;
  connect: ConnectContext;
  out: RunOutput;
  interrupts: Interrupts;
  /** Jobs that have started, for stdin. */
  started: Array<{ job: RemoteJob; drained(): Promise<void> }>;
  /** --upload: the tree every host's job gets, walked once, and the hashes known from earlier runs. */
  upload: { set: UploadSet; cache: HashCache; reads: SharedReads; progress: UploadProgress } | null;
  /** How many hosts the run has: with several, --download goes into a directory per host. */
  targets: number;
}

export async function runCommand(options: RunOptions, io: Io): Promise<CommandResult> {
  const loaded = loadConfig(options.config);
  const plan = planRun(options, loaded.config.defaults?.network);
  const targets = targetsOf(options, loaded);
  const ssh = sshOptions(options, loaded);
  if (options.dryRun) {
    const l = options.limits;
    const flags = { '--max-cpu': l.maxCpu, '--cpu-cores': l.cpuCores, '--max-memory': l.maxMemory, '--max-pids': l.maxPids, '--max-read-bps': l.maxReadBps, '--max-write-bps': l.maxWriteBps, '--max-iobps': l.maxIobps, '--timeout': options.timeout };
    const dry = dryRunOf(plan, targets, ssh, flags);
    io.stdout.write(options.json ? jsonDocument('dry-run', { ...dry }) : renderDryRun(dry));
    return { exitCode: 0 };
  }
  // Walked before any host is contacted: a missing file or a device fails the run here.
  const cache = plan.uploads.length === 0 ? null : HashCache.load();
  const set = cache === null ? null : walkUploads(plan.uploads);
  const upload = cache === null || set === null ? null : { set, cache, reads: new SharedReads(cache), progress: new UploadProgress(io, set.totals.bytes, targets.length) };
  const identity = ensureIdentity(loaded, (line) => io.stderr.write(`${line}\n`));
  const out = runOutput(plan.output, io, {
    hosts: targets.map((t) => t.name),
    limits: plan.limits,
    colour: plan.colour,
    ...(options.outputDir === undefined ? {} : { dir: options.outputDir }),
    quiet: plan.quiet,
    noPrefix: plan.noPrefix,
  });
  // Exiting from a signal handler: what is written so far goes out first.
  const exitNow = (status: number): void => void process.stdout.write('', () => process.stderr.write('', () => process.exit(status)));
  const run: RunContext = { plan, connect: { helper: helperAsset(), identity, ssh, config: loaded.path }, out, interrupts: new Interrupts(plan.graceMs, (line) => io.stderr.write(`${line}\n`), exitNow), started: [], upload, targets: targets.length };

  const outcomes = new Map<string, HostOutcome>();
  const finished: Array<Promise<void>> = [];
  try {
    await eachLimited(targets, plan.parallel, async (target) => {
      const outcome: HostOutcome = { host: target.name, jobId: null, result: null, error: null, shippedHelper: false };
      outcomes.set(target.name, outcome);
      const running = await runOnHost(target, outcome, run);
      if (running !== null) finished.push(running.ended);
    });
    const stopStdin = options.stdin ? pumpStdin(io.stdin, run.started) : () => {};
    if (!options.stdin) for (const { job } of run.started) job.endStdin();
    await Promise.all(finished);
    stopStdin();
  } finally {
    run.interrupts.dispose();
    upload?.progress.finish();
    upload?.cache.save();
  }

  const list = targets.map((t) => outcomes.get(t.name)!);
  rememberJobs(list.filter((o) => o.jobId !== null).map((o) => ({ id: o.jobId!, host: o.host })));
  rememberFailed(list.filter((o) => (plan.detach ? o.error !== null : exitStatus(o) !== 0)).map((o) => o.host));
  if (plan.detach) return reportDetached(list, options.json, io);
  // Interrupted: what was gathered so far is still printed, hosts not reached included.
  out.end(list);
  return { exitCode: run.interrupts.interrupted ? EXIT_INTERRUPTED : overallStatus(list) };
}

/**
 * One host of a run: connect, start the job, stream its output into `outcome`. Resolves once the
 * job is under way (so the next host can start), with its end to wait for; null when there is
 * nothing to wait for (not started, or detached).
 */
async function runOnHost(target: HostTarget, outcome: HostOutcome, run: RunContext): Promise<{ ended: Promise<void> } | null> {
  const { out, plan } = run;
  // After Ctrl-C no new host is started; those already running are stopped and reported.
  if (run.interrupts.interrupted) {
    outcome.error = new HerdError('INTERRUPTED', 'not started: the run was interrupted', { host: target.name });
    out.hostDone(outcome);
    return null;
  }
  let connection: HostConnection;
  const connectStarted = performance.now();
  const reading = run.upload?.reads.hostStarting();
  try {
    connection = await openWithRetries(target, run.connect, plan.retries);
  } catch (err) {
    if (reading !== undefined) run.upload?.reads.hostDone(reading);
    run.upload?.progress.hostDone();
    outcome.error = asHerdError(err).withHost(target.name);
    out.hostDone(outcome);
    return null;
  }
  outcome.shippedHelper = connection.shipped;
  outcome.connection = { direct: connection.direct, reused: connection.reused, phases: connection.phases, ...(connection.shippedRuntime === null ? {} : { shippedRuntime: connection.shippedRuntime }) };
  let request = plan.request;
  if (run.upload !== null && reading !== undefined) {
    try {
      const staged = await stageUpload(connection, run.upload.set, run.upload.cache, run.upload.reads, reading, (n) => run.upload?.progress.add(n)).finally(() => {
        run.upload?.reads.hostDone(reading);
        run.upload?.progress.hostDone();
      });
      outcome.upload = staged.report;
      connection.phases.upload = Math.round(performance.now() - connectStarted);
      request = { ...request, stage: staged.stage };
    } catch (err) {
      outcome.error = asHerdError(err).withHost(target.name);
      connection.close();
      out.hostDone(outcome);
      return null;
    }
  }
  if (plan.detach) {
    try {
      const reply = await connection.request({ t: 'run', ...request });
      if (reply.t !== 'jobs' || reply.jobs.length !== 1) throw new HerdError('PROTOCOL', `expected the detached job, got "${reply.t}"`);
      outcome.job = reply.jobs[0]!;
      outcome.jobId = outcome.job.id;
    } catch (err) {
      outcome.error = asHerdError(err).withHost(target.name);
    } finally {
      connection.close();
    }
    return null;
  }
  // Output bytes handed on so far: where `herd job logs --from-byte` resumes if the connection drops.
  let delivered = 0;
  const job = connection.run(request, {
    started: (jobId) => {
      outcome.jobId = jobId;
      out.started(target.name, jobId);
    },
    output: (channel, bytes, done) => {
      delivered += bytes.length;
      out.output(target.name, channel, bytes, done);
    },
  });
  run.interrupts.add(job);
  run.started.push({ job, drained: () => connection.drained() });
  const ended = job.result.then(
    async (result: JobResult) => {
      connection.phases.job = Math.round(performance.now() - connectStarted);
      outcome.result = result;
      outcome.jobId = result.jobId;
      // --download: the job's files, once it has ended, over the same connection.
      for (const path of plan.downloads) {
        const into = run.targets > 1 ? join(plan.downloadDir, outputFileName(target.name)) : plan.downloadDir;
        try {
          const got = await receiveJobFiles(connection, result.jobId, path, into);
          outcome.download = { files: (outcome.download?.files ?? 0) + got.files, bytes: (outcome.download?.bytes ?? 0) + got.bytes, into };
        } catch (err) {
          outcome.error = asHerdError(err).withHost(target.name);
          break;
        }
      }
    },
    (err: unknown) => {
      const error = asHerdError(err).withHost(target.name);
      outcome.error =
        error.code === 'CONNECTION_LOST' && outcome.jobId !== null
          ? new HerdError(error.code, error.message, {
              host: target.name,
              hint: `follow it from where it stopped: herd job logs -H ${target.name} -f ${outcome.jobId} --from-byte ${delivered}`,
            })
          : error;
    },
  ).finally(() => {
    out.hostDone(outcome);
    connection.close();
  });
  return { ended };
}

/** `--detach`: each host's job id (alone for one host, so scripts can capture it), or why there is none. */
function reportDetached(list: readonly HostOutcome[], json: boolean, io: Io): CommandResult {
  if (json) {
    io.stdout.write(jsonDocument('run-detached', { hosts: list.map((o) => ({ host: o.host, jobId: o.jobId, job: o.job ?? null, error: o.error?.toJSON() ?? null })) }));
  } else {
    for (const o of list) {
      if (o.error !== null) io.stderr.write(`${errorLine(o.error)}\n`);
      else io.stdout.write(list.length > 1 ? `${o.host}: ${o.jobId}\n` : `${o.jobId}\n`);
    }
    const first = list.find((o) => o.job !== undefined)?.job;
    if (first !== undefined && isTerminal(io.stderr)) {
      io.stderr.write(first.state === 'SCHEDULED' ? `herd: scheduled for ${first.scheduledFor}; herd job list shows it\n` : `herd: follow it with: herd job logs -f ${first.id}\n`);
    }
  }
  return { exitCode: list.some((o) => o.error !== null) ? Math.max(...list.map((o) => exitStatus(o))) : 0 };
}

/** Connects, trying again (0.5 s, 1 s, 2 s, ...) while the host cannot be reached; other errors end it at once. */
async function openWithRetries(target: HostTarget, context: ConnectContext, retries: number): Promise<HostConnection> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await HostConnection.open(target, context);
    } catch (err) {
      const error = asHerdError(err);
      if (attempt >= retries || (error.code !== 'HOST_UNREACHABLE' && error.code !== 'CONNECTION_LOST')) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** attempt, 8000)));
    }
  }
}

export const runModule: CommandModule = {
  command: 'run [cmd..]',
  describe: 'run a command in an isolated job on hosts',
  builder: runFlags,
  handler: (argv, io) => runCommand(readRunFlags(argv), io),
};
