import { HerdError } from '../../protocol/errors.ts';
import type { JobDeleteRequest, JobInfo, JobListRequest, JobLogsRequest, JobPruneRequest, JobStatusRequest, JobStopRequest, JobWaitRequest } from '../../protocol/messages.ts';
import { MAX_MESSAGE_BYTES } from '../../protocol/limits.ts';
import { allows } from '../../protocol/roles.ts';
import { isFinal } from '../jobs/jobRecord.ts';
import { LogStream } from '../jobs/logs/logStream.ts';
import { answer, type Caller, type RequestContext } from './context.ts';

/** Lists go out in several `jobs` messages, each well under the message limit, then `done`. */
const LIST_BATCH_BYTES = MAX_MESSAGE_BYTES / 2;

function answerList(context: RequestContext, jobs: JobInfo[]): void {
  let batch: JobInfo[] = [];
  let size = 0;
  for (const job of jobs) {
    const bytes = JSON.stringify(job).length;
    if (batch.length > 0 && size + bytes > LIST_BATCH_BYTES) {
      context.session.sendMessage(context.stream, { t: 'jobs', jobs: batch });
      batch = [];
      size = 0;
    }
    batch.push(job);
    size += bytes;
  }
  if (batch.length > 0) context.session.sendMessage(context.stream, { t: 'jobs', jobs: batch });
  answer(context, { t: 'done' });
}

/**
 * A job is its starter's: the same subject from the same CA (two CAs may each have an "alice").
 * Jobs recorded before herd knew several CAs belong to the CA the host trusted then.
 */
export function ownsJob(caller: Caller, info: Pick<JobInfo, 'owner' | 'ownerCa'>, legacyCa: string | null): boolean {
  return info.owner === caller.subject && (info.ownerCa ?? legacyCa) === caller.ca;
}

function mayManage(caller: Caller, info: JobInfo, legacyCa: string | null): boolean {
  return ownsJob(caller, info, legacyCa) || allows(caller.role, 'manage-any-job');
}

/** Stopping and deleting someone else's job takes `manage-any-job` (the role check itself is the table's). */
export function checkOwner(caller: Caller, info: JobInfo, what: string, legacyCa: string | null): void {
  if (!mayManage(caller, info, legacyCa)) {
    throw new HerdError('PERMISSION_DENIED', `job ${info.id} was started by ${info.owner}; role "${caller.role}" may ${what} only its own jobs`, { hint: 'use an admin certificate' });
  }
}

/** Answers with the job's state once it has ended (at once if it has); the client going away stops the wait. */
function answerWhenEnded(context: RequestContext, id: string): void {
  const { book } = context.agent;
  const source = book.source(id);
  const ended = (): void => answer(context, { t: 'jobs', jobs: [book.info(id)] });
  if (source.finished()) {
    ended();
    return;
  }
  // The watch fires on every piece of output, so it asks only whether the job has ended.
  let stop = (): void => {};
  stop = source.watch(() => {
    if (!source.finished()) return;
    stop();
    ended();
  });
  context.streams.serve(context.stream, { close: stop });
}

export function listJobs(request: JobListRequest, context: RequestContext): void {
  answerList(context, context.agent.book.list(request.state));
}

export function jobStatus(request: JobStatusRequest, context: RequestContext): void {
  const { book } = context.agent;
  answer(context, { t: 'jobs', jobs: [book.info(book.resolve(request.id))] });
}

export function waitForJob(request: JobWaitRequest, context: RequestContext): void {
  answerWhenEnded(context, context.agent.book.resolve(request.id));
}

export function stopJob(request: JobStopRequest, context: RequestContext): void {
  const { book, scheduler } = context.agent;
  const id = book.resolve(request.id);
  const info = book.info(id);
  checkOwner(context.caller, info, 'stop', context.agent.identity.legacyCa);
  if (info.state === 'SCHEDULED') {
    const cancelled = scheduler.cancel(id, context.caller.subject);
    if (cancelled !== null) {
      answer(context, { t: 'jobs', jobs: [cancelled] });
      return;
    }
  }
  const job = book.live.get(id);
  if (job === undefined && !isFinal(book.info(id).state)) {
    throw new HerdError('JOB_FAILED', `job ${id} is looked after by another herd agent on this host (another herd version)`, { hint: 'stop it with the herd version that started it' });
  }
  job?.stop(request.graceMs, context.caller.subject);
  answerWhenEnded(context, id);
}

export function deleteJob(request: JobDeleteRequest, context: RequestContext): void {
  const { book } = context.agent;
  const id = book.resolve(request.id);
  checkOwner(context.caller, book.info(id), 'delete', context.agent.identity.legacyCa);
  answer(context, { t: 'jobs', jobs: [book.delete(id)] });
}

/** Prunes the caller's own finished jobs, or everyone's with `manage-any-job`. */
export function pruneJobs(request: JobPruneRequest, context: RequestContext): void {
  answerList(context, context.agent.book.prune(request.olderThanMs ?? 0, (info) => mayManage(context.caller, info, context.agent.identity.legacyCa)));
}

/** The job, its recorded output (followed as it grows with `follow`), and its state at the end. */
export function jobLogs(request: JobLogsRequest, context: RequestContext): void {
  const { book } = context.agent;
  const { session, stream } = context;
  const id = book.resolve(request.id);
  session.sendMessage(stream, { t: 'jobs', jobs: [book.info(id)] });
  const channels = new Set<1 | 2>();
  if (request.stdout || !request.stderr) channels.add(1);
  if (request.stderr || !request.stdout) channels.add(2);
  const logs = new LogStream(
    book.logPath(id),
    {
      channels,
      follow: request.follow,
      timestamps: request.timestamps,
      ...(request.tail === undefined ? {} : { tail: request.tail }),
      ...(request.fromByte === undefined ? {} : { fromByte: request.fromByte }),
    },
    book.source(id),
    {
      at: (ms) => session.sendMessage(stream, { t: 'log-at', ms }),
      data: (channel, bytes) => session.write(stream, channel, bytes),
      note: (text) => session.sendMessage(stream, { t: 'log-note', text }),
      end: () => answer(context, { t: 'jobs', jobs: [book.info(id)] }),
    },
  );
  // A drain of this stream pumps it again; the client going away closes it.
  context.streams.serve(stream, logs);
  logs.pump();
}
