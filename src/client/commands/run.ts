import { asHerdError, HerdError } from '../../protocol/errors.ts';
import type { JobResult } from '../../protocol/messages.ts';
import { helperAsset } from '../buildInfo.ts';
import { loadConfig } from '../config.ts';
import { parseDuration } from '../durations.ts';
import { eachLimited } from '../fanout.ts';
import type { RemoteJob } from '../remoteJob.ts';
import { HostConnection } from '../hostConnection.ts';
import { Interrupts } from '../interrupt.ts';
import { resolveHosts } from '../hosts.ts';
import { ensureIdentity } from '../identity.ts';
import { PrefixedLines } from '../lineWriter.ts';
import { OutputGate } from '../outputGate.ts';
import { EXIT_INTERRUPTED, overallStatus, summaryLine, type HostOutcome } from '../outcome.ts';
import { errorLine, runReportJson } from '../render.ts';
import { pumpStdin } from '../stdinPump.ts';
import { globalOptions, type Args, type CommandModule, type CommandResult, type GlobalOptions, type Io } from './types.ts';

export interface RunOptions extends GlobalOptions {
  command: string[];
  env: string[];
  workdir?: string;
  user?: string;
  grace: string;
  acceptNew: boolean;
  stdin: boolean;
  parallel: number;
  connectTimeout: string;
}

/** Default number of hosts contacted at once. */
export const DEFAULT_PARALLEL = 64;

/** `--user UID[:GID]`, numeric; the group defaults to the user id. */
export function parseUser(text: string): { uid: number; gid: number } {
  const match = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(text.trim());
  const uid = Number(match?.[1]);
  const gid = match?.[2] === undefined ? uid : Number(match[2]);
  if (match === null || uid >= 2 ** 32 - 1 || gid >= 2 ** 32 - 1) {
    throw new HerdError('INVALID_SPEC', `--user: "${text}" is not UID[:GID] (numbers, e.g. 1000 or 1000:100)`);
  }
  return { uid, gid };
}

function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new HerdError('INVALID_SPEC', `--env: "${pair}" is not KEY=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

export async function runCommand(options: RunOptions, io: Io): Promise<CommandResult> {
  if (options.command.length === 0) throw new HerdError('INVALID_SPEC', 'no command given: herd run [options] -- COMMAND [ARGS...]');
  if (!Number.isInteger(options.parallel) || options.parallel < 1) throw new HerdError('INVALID_SPEC', `--parallel: "${options.parallel}" must be a whole number of at least 1`);
  const graceMs = parseDuration(options.grace, '--grace');
  const connectTimeoutMs = parseDuration(options.connectTimeout, '--connect-timeout');
  const env = parseEnv(options.env);
  const user = options.user === undefined ? undefined : parseUser(options.user);
  const loaded = loadConfig(options.config);
  const targets = resolveHosts(options.hosts, loaded.config);
  const identity = ensureIdentity(loaded, (line) => io.stderr.write(`${line}\n`));
  const context = { helper: helperAsset(), identity, ssh: { acceptNew: options.acceptNew, connectTimeoutMs } };
  const prefixed = targets.length > 1 && !options.json;
  const gates = { 1: new OutputGate(io.stdout), 2: new OutputGate(io.stderr) };

  const outcomes = new Map<string, HostOutcome>();
  const interrupts = new Interrupts(graceMs, (line) => io.stderr.write(`${line}\n`));

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
      const prefixers = prefixed ? { 1: new PrefixedLines(`${target.name}: `), 2: new PrefixedLines(`${target.name}: `) } : null;
      const job = connection.run(
        {
          argv: options.command,
          env,
          ...(options.workdir === undefined ? {} : { workdir: options.workdir }),
          ...(user === undefined ? {} : { user }),
        },
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
            gates[channel].write(prefixers === null ? bytes : prefixers[channel].push(bytes), done);
          },
        },
      );
      interrupts.add(job);
      jobsReady.push({ job, drained: () => connection.drained() });
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
          if (prefixers !== null) {
            for (const channel of [1, 2] as const) gates[channel].write(prefixers[channel].end(), () => {});
          }
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
    interrupts.dispose();
  }

  const list = targets.map((t) => outcomes.get(t.name)!);
  if (options.json) {
    io.stdout.write(runReportJson(list));
  } else {
    for (const o of list) if (o.error !== null) io.stderr.write(`${errorLine(o.error)}\n`);
    if (list.length > 1) io.stderr.write(`${summaryLine(list)}\n`);
  }
  return { exitCode: interrupts.interrupted ? EXIT_INTERRUPTED : overallStatus(list) };
}

function runOptions(argv: Args): RunOptions {
  const positional = Array.isArray(argv.cmd) ? (argv.cmd as unknown[]).map(String) : [];
  const rest = Array.isArray(argv['--']) ? (argv['--'] as unknown[]).map(String) : [];
  return {
    ...globalOptions(argv),
    command: [...positional, ...rest],
    env: (argv.env as string[] | undefined) ?? [],
    ...(typeof argv.workdir === 'string' ? { workdir: argv.workdir } : {}),
    ...(typeof argv.user === 'string' ? { user: argv.user } : {}),
    grace: String(argv.grace),
    acceptNew: argv.acceptNew === true,
    stdin: argv.stdin !== false,
    parallel: Number(argv.parallel),
    connectTimeout: String(argv.connectTimeout),
  };
}

export const runModule: CommandModule = {
  command: 'run [cmd..]',
  describe: 'run a command in an isolated job on hosts',
  builder: (y) =>
    y
      .usage('$0 run [options] -- COMMAND [ARGS...]\n\nRun COMMAND in an isolated job on each host (the local machine by default) and stream its output.')
      .positional('cmd', { describe: 'the command and its arguments (put them after --)', type: 'string', array: true })
      .option('env', { alias: 'e', type: 'string', array: true, default: [], describe: 'set an environment variable in the job (KEY=VALUE; repeatable)' })
      .option('workdir', { alias: 'w', type: 'string', describe: 'working directory inside the job (default: /work, private to the job)' })
      .option('user', { alias: 'u', type: 'string', describe: 'run the command as UID[:GID] (numeric; needs root on the host)' })
      .option('grace', { type: 'string', default: '10s', describe: 'after Ctrl-C, time between SIGTERM and SIGKILL' })
      .option('accept-new', { type: 'boolean', default: false, describe: 'record the host key of hosts not yet in known_hosts (never a changed key)' })
      .option('stdin', { type: 'boolean', default: true, describe: 'forward local stdin to the job(s); --no-stdin gives them an empty stdin' })
      .option('parallel', { alias: 'f', type: 'number', default: DEFAULT_PARALLEL, describe: 'hosts contacted at once' })
      .option('connect-timeout', { type: 'string', default: '15s', describe: 'give up connecting to a host after this long' })
      .example('$0 run -- uname -a', 'run locally, isolated')
      .example('$0 run -H web1,web2 -- df -h /', 'run on two hosts from the config')
      .example('$0 run -H root@10.0.0.5:2222 --accept-new -- hostname', 'first contact with a new host')
      .example('$0 run --json -H web1,web2 -- uptime', 'one JSON document with each host\'s result')
      .epilog(
        'Exit status: the job\'s (the largest over several hosts); 128+n when killed by signal n; 127 when the command is not found; 130 after Ctrl-C; 2 for a usage error; 255 when herd itself failed for a host (the error line names the code).',
      ),
  handler: (argv, io) => runCommand(runOptions(argv), io),
};
