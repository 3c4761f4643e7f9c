import { HerdError } from '../../protocol/errors.ts';
import type { JobInfo, JobRequest, Role } from '../../protocol/messages.ts';
import { MAX_MESSAGE_BYTES } from '../../protocol/limits.ts';
import { allows } from '../../protocol/roles.ts';
import type { Session } from '../../protocol/session.ts';
import type { AgentState } from '../agent/agentState.ts';
import { isFinal } from '../jobs/jobRecord.ts';
import { LogStream } from '../jobs/logs/logStream.ts';

export interface Caller {
  subject: string;
  role: Role;
}

/** Per connection: the streams still being served (a wait, a log follower), to pump on drain and close when the client goes. */
export type ServedStreams = Map<number, { close(): void; pump?(): void }>;

/** Lists go out in several `jobs` messages, each well under the message limit, then `done`. */
const LIST_BATCH_BYTES = MAX_MESSAGE_BYTES / 2;

function sendList(session: Session, stream: number, jobs: JobInfo[]): void {
  let batch: JobInfo[] = [];
  let size = 0;
  for (const job of jobs) {
    const bytes = JSON.stringify(job).length;
    if (batch.length > 0 && size + bytes > LIST_BATCH_BYTES) {
      session.sendMessage(stream, { t: 'jobs', jobs: batch });
      batch = [];
      size = 0;
    }
    batch.push(job);
    size += bytes;
  }
  if (batch.length > 0) session.sendMessage(stream, { t: 'jobs', jobs: batch });
  session.sendMessage(stream, { t: 'done' });
  session.close(stream);
}

function mayManage(caller: Caller, info: JobInfo): boolean {
  return info.owner === caller.subject || allows(caller.role, 'manage-any-job');
}

function checkManage(caller: Caller, info: JobInfo, what: string): void {
  if (!allows(caller.role, 'signal')) throw new HerdError('PERMISSION_DENIED', `role "${caller.role}" may not ${what} jobs`);
  if (!mayManage(caller, info)) {
    throw new HerdError('PERMISSION_DENIED', `job ${info.id} was started by ${info.owner}; role "${caller.role}" may ${what} only its own jobs`, { hint: 'use an admin certificate' });
  }
}

/**
 * Calls `then` once the job has ended (at once if it has); returns the way to stop waiting. The
 * watch fires on every piece of output, so it asks only whether the job has ended.
 */
function whenEnded(agent: AgentState, id: string, then: () => void): () => void {
  const source = agent.book.source(id);
  if (source.finished()) {
    then();
    return () => {};
  }
  let stop = (): void => {};
  stop = source.watch(() => {
    if (!source.finished()) return;
    stop();
    then();
  });
  return stop;
}

/** Serves one job request (herd job list, status, logs, wait, stop, delete, prune) on its stream. */
export function serveJobRequest(agent: AgentState, session: Session, stream: number, message: JobRequest, caller: Caller, served: ServedStreams): void {
  const { book } = agent;
  const reply = (jobs: JobInfo[]): void => {
    session.sendMessage(stream, { t: 'jobs', jobs });
    session.close(stream);
  };
  const replyWhenEnded = (id: string): void => {
    let ended = false;
    const stop = whenEnded(agent, id, () => {
      ended = true;
      served.delete(stream);
      reply([book.info(id)]);
    });
    if (!ended) served.set(stream, { close: stop });
  };
  const readable = (): void => {
    if (!allows(caller.role, 'status')) throw new HerdError('PERMISSION_DENIED', `role "${caller.role}" may not see jobs`);
  };
  switch (message.t) {
    case 'job-list':
      readable();
      sendList(session, stream, book.list(message.state));
      return;
    case 'job-status':
      readable();
      reply([book.info(book.resolve(message.id))]);
      return;
    case 'job-wait': {
      readable();
      const id = book.resolve(message.id);
      replyWhenEnded(id);
      return;
    }
    case 'job-stop': {
      const id = book.resolve(message.id);
      const info = book.info(id);
      checkManage(caller, info, 'stop');
      if (info.state === 'SCHEDULED') {
        const cancelled = agent.scheduler.cancel(id, caller.subject);
        if (cancelled !== null) {
          reply([cancelled]);
          return;
        }
      }
      const job = book.live.get(id);
      if (job === undefined && !isFinal(book.info(id).state)) {
        throw new HerdError('JOB_FAILED', `job ${id} is looked after by another herd agent on this host (another herd version)`, { hint: 'stop it with the herd version that started it' });
      }
      job?.stop(message.graceMs, caller.subject);
      replyWhenEnded(id);
      return;
    }
    case 'job-delete': {
      const id = book.resolve(message.id);
      checkManage(caller, book.info(id), 'delete');
      reply([book.delete(id)]);
      return;
    }
    case 'job-prune': {
      if (!allows(caller.role, 'signal')) throw new HerdError('PERMISSION_DENIED', `role "${caller.role}" may not prune jobs`);
      sendList(session, stream, book.prune(message.olderThanMs ?? 0, (info) => mayManage(caller, info)));
      return;
    }
    case 'job-logs': {
      readable();
      const id = book.resolve(message.id);
      session.sendMessage(stream, { t: 'jobs', jobs: [book.info(id)] });
      const channels = new Set<1 | 2>();
      if (message.stdout || !message.stderr) channels.add(1);
      if (message.stderr || !message.stdout) channels.add(2);
      const logs = new LogStream(
        book.logPath(id),
        {
          channels,
          follow: message.follow,
          timestamps: message.timestamps,
          ...(message.tail === undefined ? {} : { tail: message.tail }),
          ...(message.fromByte === undefined ? {} : { fromByte: message.fromByte }),
        },
        book.source(id),
        {
          at: (ms) => session.sendMessage(stream, { t: 'log-at', ms }),
          data: (channel, bytes) => session.write(stream, channel, bytes),
          note: (text) => session.sendMessage(stream, { t: 'log-note', text }),
          end: () => {
            served.delete(stream);
            reply([book.info(id)]);
          },
        },
      );
      // A drain of this stream pumps it again (see hostSession); a client gone closes it.
      served.set(stream, logs);
      logs.pump();
      return;
    }
  }
}
