import { asHerdError, HerdError } from '../../protocol/errors.ts';
import type { JobResult } from '../../protocol/messages.ts';
import { helperAsset } from '../buildInfo.ts';
import { loadConfig } from '../config.ts';
import { parseDuration } from '../durations.ts';
import { HostConnection, type RemoteJob } from '../hostConnection.ts';
import { resolveHosts, type HostTarget } from '../hosts.ts';
import { ensureIdentity } from '../identity.ts';
import { PrefixedLines } from '../lineWriter.ts';
import { EXIT_INTERRUPTED, overallStatus, summaryLine, type HostOutcome } from '../outcome.ts';
import { errorLine, runReportJson } from '../render.ts';
import { pumpStdin } from '../stdinPump.ts';
import type { CommandResult, GlobalOptions } from './types.ts';

export interface RunOptions extends GlobalOptions {
  command: string[];
  env: string[];
  workdir?: string;
  grace: string;
  acceptNew: boolean;
  stdin: boolean;
  parallel: number;
  connectTimeout: string;
}

/** Default number of hosts contacted at once. */
export const DEFAULT_PARALLEL = 64;

function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new HerdError('INVALID_SPEC', `--env: "${pair}" is not KEY=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}

/** Runs a limited number of tasks at once. */
async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!);
  });
  await Promise.all(workers);
}

export async function runCommand(options: RunOptions, io: Io): Promise<CommandResult> {
  if (options.command.length === 0) throw new HerdError('INVALID_SPEC', 'no command given: herd run [options] -- COMMAND [ARGS...]');
  if (!Number.isInteger(options.parallel) || options.parallel < 1) throw new HerdError('INVALID_SPEC', `--parallel: "${options.parallel}" must be a whole number of at least 1`);
  const graceMs = parseDuration(options.grace, '--grace');
  const connectTimeoutMs = parseDuration(options.connectTimeout, '--connect-timeout');
  const env = parseEnv(options.env);
  const loaded = loadConfig(options.config);
  const targets = resolveHosts(options.hosts, loaded.config);
  const identity = ensureIdentity(loaded, (line) => io.stderr.write(`${line}\n`));
  const context = { helper: helperAsset(), identity, ssh: { acceptNew: options.acceptNew, connectTimeoutMs } };
  const prefixed = targets.length > 1 && !options.json;

  const outcomes = new Map<string, HostOutcome>();
  const running: Array<{ target: HostTarget; job: RemoteJob; connection: HostConnection }> = [];
  let interrupts = 0;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const onInterrupt = (): void => {
    interrupts++;
    const signal = interrupts === 1 ? 'TERM' : 'KILL';
    for (const r of running) r.job.signal(signal);
    if (interrupts === 1) {
      io.stderr.write(`herd: interrupted; sent SIGTERM to ${running.length} job(s), SIGKILL follows in ${Math.round(graceMs / 1000)} s (Ctrl-C again to kill now)\n`);
      killTimer = setTimeout(() => {
        for (const r of running) r.job.signal('KILL');
      }, graceMs);
    }
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);

  const jobsReady: Array<{ job: RemoteJob; drained(): Promise<void> }> = [];
  const finished: Array<Promise<void>> = [];
  try {
    await eachLimited(targets, options.parallel, async (target) => {
      const outcome: HostOutcome = { host: target.name, jobId: null, result: null, error: null, shippedHelper: false };
      outcomes.set(target.name, outcome);
      let connection: HostConnection;
      const connectStarted = performance.now();
      try {
        connection = await HostConnection.open(target, context);
      } catch (err) {
        outcome.error = asHerdError(err).withHost(target.name);
        return;
      }
      outcome.shippedHelper = connection.shipped;
      outcome.connection = { direct: connection.direct, phases: connection.phases };
      const collected = { 1: [] as Buffer[], 2: [] as Buffer[] };
      const sinks = prefixed
        ? { 1: new PrefixedLines(`${target.name}: `, io.stdout), 2: new PrefixedLines(`${target.name}: `, io.stderr) }
        : null;
      const streams = { 1: io.stdout, 2: io.stderr };
      const job = connection.run(
        { argv: options.command, env, ...(options.workdir === undefined ? {} : { workdir: options.workdir }) },
        {
          started: (jobId) => {
            outcome.jobId = jobId;
          },
          output: (channel, bytes, done) => {
            if (options.json) {
              collected[channel].push(Buffer.from(bytes));
              done();
              return;
            }
            const ok = sinks === null ? streams[channel].write(bytes) : sinks[channel].write(bytes);
            if (ok) done();
            else streams[channel].once('drain', done);
          },
        },
      );
      running.push({ target, job, connection });
      jobsReady.push({ job, drained: () => connection.drained() });
      if (interrupts > 0) job.signal(interrupts === 1 ? 'TERM' : 'KILL');
      finished.push(
        job.result.then(
          (result: JobResult) => {
            connection.phases.job = Math.round(performance.now() - connectStarted);
            outcome.result = result;
            outcome.jobId = result.jobId;
          },
          (err: unknown) => {
            outcome.error = asHerdError(err).withHost(target.name);
          },
        ).finally(() => {
          sinks?.[1].flush();
          sinks?.[2].flush();
          if (options.json) {
            outcome.stdout = Buffer.concat(collected[1]).toString('utf8');
            outcome.stderr = Buffer.concat(collected[2]).toString('utf8');
          }
          connection.close();
        }),
      );
    });
    const stopStdin = options.stdin ? pumpStdin(io.stdin, jobsReady) : () => {};
    if (!options.stdin) for (const { job } of jobsReady) job.endStdin();
    await Promise.all(finished);
    stopStdin();
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    process.removeListener('SIGTERM', onInterrupt);
    if (killTimer !== undefined) clearTimeout(killTimer);
  }

  const list = targets.map((t) => outcomes.get(t.name)!);
  if (options.json) {
    io.stdout.write(runReportJson(list));
  } else {
    for (const o of list) if (o.error !== null) io.stderr.write(`${errorLine(o.error)}\n`);
    if (list.length > 1) io.stderr.write(`${summaryLine(list)}\n`);
  }
  return { exitCode: interrupts > 0 ? EXIT_INTERRUPTED : overallStatus(list) };
}
