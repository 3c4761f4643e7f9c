import type { RunRequest, SignalRequest } from '../../protocol/messages.ts';
import { jobTerms } from '../jobs/jobTerms.ts';
import { scheduleJob } from '../jobs/scheduleJob.ts';
import { startJob } from '../jobs/startJob.ts';
import { answer, answerError, type RequestContext } from './context.ts';

/**
 * Runs a job with its output on this stream: `started`, the output, then `exit`. Detached, the
 * answer is the job's state once it has started, and the job runs on alone; scheduled, the answer
 * is its record.
 */
export function handleRun(request: RunRequest, context: RequestContext): void {
  const { agent, caller, session, stream } = context;
  const terms = jobTerms(caller, request);
  if (request.schedule !== undefined) {
    answer(context, { t: 'jobs', jobs: [scheduleJob(agent, request, terms)] });
    return;
  }
  const job = startJob(agent, request, terms);
  agent.book.track(job);
  context.streams.attach(stream, job);
  job.attach({
    started: () => {
      context.audit.ok(job.id);
      if (request.detach !== true) {
        session.sendMessage(stream, { t: 'started', jobId: job.id });
        return;
      }
      answer(context, { t: 'jobs', jobs: [job.info()] });
      job.detach();
    },
    failed: (error) => answerError(context, error),
    data: (channel, bytes) => session.write(stream, channel, bytes),
    exit: (result) => answer(context, { t: 'exit', result }),
  });
  if (request.detach === true) job.endStdin();
}

/** Signals the job of this stream; a stream whose job has ended is just closed. */
export function handleSignal(request: SignalRequest, context: RequestContext): void {
  const job = context.streams.job(context.stream);
  if (job === undefined) context.session.close(context.stream);
  else job.signal(request.signal);
}
