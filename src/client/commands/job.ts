import type { Argv } from 'yargs';
import { bytesFields, jsonDocument } from '../output/jsonDocument.ts';
import { HerdError } from '../../protocol/errors.ts';
import { JOB_STATES, type JobInfo, type JobState, type Message } from '../../protocol/messages.ts';
import { commandContext, type CommandContext } from './context.ts';
import { formatDuration, parseDuration } from '../units/durations.ts';
import { HostConnection } from '../connection/hostConnection.ts';
import { eachHost, type HostAnswer } from '../connection/hostRequests.ts';
import { hostsOfJob } from '../state/jobIndex.ts';
import { commandLine, jobDetails, jobTable } from '../output/jobRender.ts';
import { StampedLines } from '../output/lineWriter.ts';
import { errorStatus, jobExitStatus } from '../output/outcome.ts';
import { OutputGate } from '../output/outputGate.ts';
import { errorLine } from '../output/render.ts';
import { runModule } from './run.ts';
import { join } from 'node:path';
import { receiveJobFiles } from '../data/receiveFiles.ts';
import { outputFileName } from '../output/runOutput.ts';
import { globalOptions, type Args, type CommandModule, type Io } from './types.ts';

/** A follower whose connection drops tries again this often, this many times (~10 s). */
const FOLLOW_RETRY_MS = 250;
const FOLLOW_RETRIES = 40;

/**
 * The hosts a job command goes to: -H when given; else the host(s) this user started a job
 * with that id on (remembered by herd run); else the local machine.
 */
function jobContext(argv: Args, io: Io, id?: string): CommandContext {
  let hosts = globalOptions(argv).hosts;
  if (hosts === undefined && id !== undefined) {
    const known = hostsOfJob(id);
    if (known.length > 0) hosts = known.join(',');
  }
  return commandContext(
    { ...globalOptions(argv), ...(hosts === undefined ? {} : { hosts }), acceptNew: argv.acceptNew === true },
    (line) => io.stderr.write(`${line}\n`),
  );
}

/** All `jobs` answers until `done`. */
async function collectJobs(connection: HostConnection, message: Message): Promise<JobInfo[]> {
  const jobs: JobInfo[] = [];
  await connection.requestStream(message, {
    message: (reply) => {
      if (reply.t !== 'jobs') return 'end';
      jobs.push(...reply.jobs);
      return 'more';
    },
  });
  return jobs;
}

async function oneJob(connection: HostConnection, message: Message): Promise<JobInfo> {
  const reply = await connection.request(message);
  if (reply.t !== 'jobs' || reply.jobs.length !== 1) throw new HerdError('PROTOCOL', `expected one job in the answer, got "${reply.t}"`);
  return reply.jobs[0]!;
}

function jobId(argv: Args): string {
  const id = String(argv.id ?? '').trim().toLowerCase();
  if (!/^[0-9a-f]{1,12}$/.test(id)) throw new HerdError('INVALID_SPEC', `"${String(argv.id)}" is not a job id (12 hex digits, or a unique prefix of them)`);
  return id;
}

function printErrors(answers: ReadonlyArray<HostAnswer<unknown>>, io: Io): void {
  for (const answer of answers) if (answer.error !== null) io.stderr.write(`${errorLine(answer.error)}\n`);
}

/** 0, or the largest status the hosts' errors stand for (2 for a usage error such as an ambiguous id). */
function failed(answers: ReadonlyArray<HostAnswer<unknown>>): number {
  return Math.max(0, ...answers.map((a) => (a.error === null ? 0 : errorStatus(a.error))));
}

/** --json of the commands that answer with one job per host. */
function jobJson(answers: ReadonlyArray<HostAnswer<JobInfo>>, extra: (job: JobInfo) => Record<string, unknown> = () => ({})): string {
  return jsonDocument('job', { hosts: answers.map((a) => ({ host: a.host, job: a.value, ...(a.value === null ? {} : extra(a.value)), error: a.error?.toJSON() ?? null })) });
}

const idPositional = (y: Argv): Argv =>
  y
    .positional('id', { type: 'string', describe: 'the job id, or a unique prefix of it', demandOption: true })
    .option('accept-new', { type: 'boolean', default: false, describe: 'record the host key of hosts not yet in known_hosts' });

const list: CommandModule = {
  command: 'list',
  describe: 'list the jobs of each host: running, scheduled and finished',
  builder: (y) =>
    y
      .option('status', { type: 'string', choices: [...JOB_STATES, ...JOB_STATES.map((s) => s.toLowerCase())], describe: 'only jobs in this state' })
      .option('accept-new', { type: 'boolean', default: false, describe: 'record the host key of hosts not yet in known_hosts' })
      .example('$0 job list -H web1,web2 --status running', 'what is running on two hosts'),
  handler: async (argv, io) => {
    const state = typeof argv.status === 'string' ? (argv.status.toUpperCase() as JobState) : undefined;
    const context = jobContext(argv, io);
    const answers = await eachHost(context, (c) => collectJobs(c, { t: 'job-list', ...(state === undefined ? {} : { state }) }));
    if (argv.json === true) {
      io.stdout.write(jsonDocument('job-list', { hosts: answers.map((a) => ({ host: a.host, jobs: a.value, error: a.error?.toJSON() ?? null })) }));
    } else {
      printErrors(answers, io);
      const rows = answers.flatMap((a) => (a.value ?? []).map((job) => ({ host: a.host, job })));
      if (rows.length > 0) io.stdout.write(jobTable(rows, answers.length > 1));
      else if (answers.some((a) => a.error === null)) io.stderr.write(`herd: no ${state === undefined ? '' : `${state} `}jobs\n`);
    }
    return { exitCode: failed(answers) };
  },
};

/**
 * A command that asks each host about one job and gets the job back: what a person reads of each
 * answer (`human`), and the exit status a job stands for (`status`, 0 unless given).
 */
function oneJobCommand(spec: {
  command: string;
  describe: string;
  builder?: (y: Argv) => Argv;
  request: (id: string, argv: Args) => Message;
  human: (host: string, job: JobInfo, first: boolean) => { out?: string; err?: string };
  status?: (job: JobInfo) => number;
}): CommandModule {
  return {
    command: spec.command,
    describe: spec.describe,
    builder: spec.builder ?? idPositional,
    handler: async (argv, io) => {
      const id = jobId(argv);
      const request = spec.request(id, argv);
      const answers = await eachHost(jobContext(argv, io, id), (c) => oneJob(c, request));
      const status = spec.status;
      if (argv.json === true) io.stdout.write(jobJson(answers, status === undefined ? undefined : (job) => ({ exitCode: status(job) })));
      else {
        printErrors(answers, io);
        answers
          .filter((a) => a.value !== null)
          .forEach((a, i) => {
            const said = spec.human(a.host, a.value!, i === 0);
            if (said.out !== undefined) io.stdout.write(said.out);
            if (said.err !== undefined) io.stderr.write(said.err);
          });
      }
      const statuses = status === undefined ? [] : answers.map((a) => (a.value === null ? 0 : status(a.value)));
      return { exitCode: Math.max(failed(answers), ...statuses) };
    },
  };
}

const stateLine = (job: JobInfo): string => `${job.state}${job.reason === null ? '' : ` (${job.reason})`}`;

const status = oneJobCommand({
  command: 'status <id>',
  describe: 'a job\'s state, exit status, times, resource use and network',
  request: (id) => ({ t: 'job-status', id }),
  human: (host, job, first) => ({ out: `${first ? '' : '\n'}${jobDetails(host, job)}` }),
});

const wait = oneJobCommand({
  command: 'wait <id>',
  describe: 'wait for a job to end and exit with its status (124 when it timed out)',
  request: (id) => ({ t: 'job-wait', id }),
  human: (host, job) => (job.state === 'COMPLETED' ? {} : { err: `herd: ${host}: job ${job.id} ${stateLine(job)}\n` }),
  status: jobExitStatus,
});

const stop = oneJobCommand({
  command: 'stop <id>',
  describe: 'stop a job: SIGTERM, then SIGKILL after the grace period; cancels a scheduled job',
  builder: (y) => idPositional(y).option('grace', { type: 'string', default: '10s', describe: 'time between SIGTERM and SIGKILL (0: SIGKILL at once)' }),
  request: (id, argv) => ({ t: 'job-stop', id, graceMs: parseDuration(String(argv.grace), '--grace') }),
  human: (_host, job) => ({ out: `${job.id}  ${stateLine(job)}\n` }),
});

const remove = oneJobCommand({
  command: 'delete <id>',
  describe: 'delete a finished job: its record and recorded output',
  request: (id) => ({ t: 'job-delete', id }),
  human: (_host, job) => ({ out: `deleted job ${job.id} (${commandLine(job.argv, 60)})\n` }),
});

const prune: CommandModule = {
  command: 'prune',
  describe: 'delete finished jobs (all of them, or those that ended longer ago than --older-than)',
  builder: (y) =>
    y
      .option('older-than', { type: 'string', describe: 'only jobs that ended at least this long ago, e.g. 12h, 7d' })
      .option('accept-new', { type: 'boolean', default: false, describe: 'record the host key of hosts not yet in known_hosts' })
      .epilog('Hosts also delete finished jobs by themselves 7 days after they ended.'),
  handler: async (argv, io) => {
    const olderThanMs = typeof argv.olderThan === 'string' ? parseDuration(argv.olderThan, '--older-than') : undefined;
    const answers = await eachHost(jobContext(argv, io), (c) => collectJobs(c, { t: 'job-prune', ...(olderThanMs === undefined ? {} : { olderThanMs }) }));
    if (argv.json === true) {
      io.stdout.write(jsonDocument('job-prune', { hosts: answers.map((a) => ({ host: a.host, pruned: a.value, error: a.error?.toJSON() ?? null })) }));
    } else {
      printErrors(answers, io);
      for (const a of answers) {
        if (a.value !== null) io.stdout.write(`${answers.length > 1 ? `${a.host}: ` : ''}pruned ${a.value.length} job${a.value.length === 1 ? '' : 's'}${olderThanMs === undefined ? '' : ` that ended over ${formatDuration(olderThanMs)} ago`}\n`);
      }
    }
    return { exitCode: failed(answers) };
  },
};

const logs: CommandModule = {
  command: 'logs <id>',
  aliases: ['log'],
  describe: 'a job\'s recorded output: all of it, the end (--tail), or live (-f)',
  builder: (y) =>
    idPositional(y)
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'keep printing output as the job writes it, until it ends' })
      .option('tail', { type: 'number', describe: 'start at the last N lines' })
      .option('stdout', { type: 'boolean', default: false, describe: 'only the job\'s stdout' })
      .option('stderr', { type: 'boolean', default: false, describe: 'only the job\'s stderr' })
      .option('timestamps', { alias: 't', type: 'boolean', default: false, describe: 'start each line with the time it was recorded' })
      .option('from-byte', { type: 'number', describe: 'skip the first N bytes of the output (where an interrupted herd run stopped)' })
      .conflicts('tail', 'from-byte')
      .example('$0 job logs -f 3fa2c1', 'follow a job from the start')
      .example('$0 job logs --tail 20 --stderr 3fa2c1', 'the last 20 lines of its stderr'),
  handler: async (argv, io) => {
    const id = jobId(argv);
    const context = jobContext(argv, io, id);
    if (context.targets.length !== 1) {
      throw new HerdError('INVALID_SPEC', `job logs reads one host's job; ${context.targets.map((t) => t.name).join(', ')} were named`, { hint: 'pick one with -H' });
    }
    const count = (value: unknown, flag: string): number | undefined => {
      if (value === undefined) return undefined;
      if (!Number.isSafeInteger(value) || (value as number) < 0) throw new HerdError('INVALID_SPEC', `${flag}: "${String(value)}" must be a whole number of at least 0`);
      return value as number;
    };
    const tail = count(argv.tail, '--tail');
    const fromByte = count(argv.fromByte, '--from-byte');
    const json = argv.json === true;
    const gates = { 1: new OutputGate(io.stdout), 2: new OutputGate(io.stderr) };
    const stamped = { 1: new StampedLines(), 2: new StampedLines() };
    const collected = { 1: [] as Buffer[], 2: [] as Buffer[] };
    const notes: string[] = [];
    let stamp = '';
    // Where this reader is: output bytes and notes handed on so far, so that a follower whose
    // connection drops (the host's agent was restarted, say) picks up exactly there.
    let delivered = 0;
    let notesSeen = 0;
    const follow = argv.follow === true;
    const readLogs = async (connection: HostConnection, attempt: number): Promise<JobInfo | null> => {
      let job: JobInfo | null = null;
      let notesToSkip = attempt === 0 ? 0 : notesSeen;
      const resumeAt = (fromByte ?? 0) + delivered;
      await connection.requestStream(
        {
          t: 'job-logs',
          id,
          follow,
          stdout: argv.stdout === true,
          stderr: argv.stderr === true,
          timestamps: argv.timestamps === true,
          ...(attempt === 0 && tail !== undefined ? { tail } : {}),
          ...(attempt === 0 ? (fromByte === undefined ? {} : { fromByte }) : { fromByte: resumeAt }),
        },
        {
          message: (reply) => {
            if (reply.t === 'log-at') stamp = new Date(reply.ms).toISOString();
            else if (reply.t === 'log-note') {
              if (notesToSkip > 0) {
                notesToSkip--;
                return 'more';
              }
              notesSeen++;
              notes.push(reply.text);
              if (!json) io.stderr.write(`${reply.text}\n`);
            } else if (reply.t === 'jobs') {
              // The first names the job; the second, after the output, is its state at the end.
              const first = job === null;
              job = reply.jobs[0] ?? null;
              return first ? 'more' : 'end';
            }
            return 'more';
          },
          data: (channel, bytes, done) => {
            delivered += bytes.length;
            const out = argv.timestamps === true ? stamped[channel].push(bytes, stamp) : bytes;
            if (json) {
              collected[channel].push(Buffer.from(out));
              done();
            } else gates[channel].write(out, done);
          },
        },
      );
      return job;
    };
    const answers = await eachHost(context, async (connection, target) => {
      try {
        return await readLogs(connection, 0);
      } catch (err) {
        // A follower after --tail has no byte position to resume from; it reports the drop.
        if (!follow || tail !== undefined || !(err instanceof HerdError) || err.code !== 'CONNECTION_LOST') throw err;
      }
      for (let attempt = 1; ; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, FOLLOW_RETRY_MS));
        let again: HostConnection | undefined;
        try {
          again = await HostConnection.open(target, context.connect);
          return await readLogs(again, attempt);
        } catch (err) {
          if (attempt >= FOLLOW_RETRIES || !(err instanceof HerdError) || !['CONNECTION_LOST', 'HOST_UNREACHABLE', 'HELPER_START'].includes(err.code)) throw err;
        } finally {
          again?.close();
        }
      }
    });
    if (json) {
      const a = answers[0]!;
      io.stdout.write(
        jsonDocument('job-logs', { hosts: [{ host: a.host, job: a.value, ...bytesFields('stdout', Buffer.concat(collected[1])), ...bytesFields('stderr', Buffer.concat(collected[2])), notes, error: a.error?.toJSON() ?? null }] }),
      );
    } else printErrors(answers, io);
    return { exitCode: failed(answers) };
  },
};

const cp: CommandModule = {
  command: 'cp <from> <to>',
  describe: 'copy files out of a job\'s /work, while it runs or after it ended: ID:PATH LOCALDIR',
  builder: (y) =>
    y
      .positional('from', { type: 'string', describe: 'ID:PATH, PATH in the job\'s /work (relative to it, or /work/...; ID: alone is all of it)', demandOption: true })
      .positional('to', { type: 'string', describe: 'the local directory it goes into (made if missing); with several hosts, TO/HOST/', demandOption: true })
      .option('accept-new', { type: 'boolean', default: false, describe: 'record the host key of hosts not yet in known_hosts' })
      .example('$0 job cp 3fa2c1:results ./out', './out/results from the job\'s /work/results')
      .example('$0 job cp -H \'gpu[1-8]\' 3fa2c1:model.pth ./models', './models/gpu1/model.pth ... one per host'),
  handler: async (argv, io) => {
    const from = String(argv.from);
    const colon = from.indexOf(':');
    if (colon < 1) throw new HerdError('INVALID_SPEC', `"${from}" is not ID:PATH (the job id, a colon, a path in its /work)`);
    const id = jobId({ ...argv, id: from.slice(0, colon) });
    const path = from.slice(colon + 1);
    const to = String(argv.to);
    const context = jobContext(argv, io, id);
    const several = context.targets.length > 1;
    const answers = await eachHost(context, async (connection, target) => {
      const into = several ? join(to, outputFileName(target.name)) : to;
      return { into, ...(await receiveJobFiles(connection, id, path, into)) };
    });
    if (argv.json === true) {
      io.stdout.write(jsonDocument('job-cp', { hosts: answers.map((a) => ({ host: a.host, ...(a.value ?? {}), error: a.error?.toJSON() ?? null })) }));
    } else {
      for (const a of answers) {
        if (a.value === null) continue;
        if (a.value.skipped.length > 0) io.stderr.write(`herd: ${a.host}: left out what is not a file, directory or symlink (or has a control character in its name): ${a.value.skipped.map((p) => JSON.stringify(p)).join(', ')}\n`);
      }
      printErrors(answers, io);
    }
    return { exitCode: failed(answers) };
  },
};

export const jobModule = {
  command: 'job',
  describe: 'jobs: run, list, status, logs, wait, stop, delete, prune, cp',
  subcommands: [runModule, list, status, logs, wait, stop, remove, prune, cp],
};

