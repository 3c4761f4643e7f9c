import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { asHerdError, HerdError } from '../../protocol/errors.ts';
import type { RunRequest, SignalRequest } from '../../protocol/messages.ts';
import { newJobId } from '../jobs/jobId.ts';
import { hostOwner } from '../jobs/jobPlan.ts';
import { jobTerms, type JobTerms } from '../jobs/jobTerms.ts';
import { scheduleJob } from '../jobs/scheduleJob.ts';
import { planFor, startJob } from '../jobs/startJob.ts';
import { BlobStore } from '../data/blobStore.ts';
import { materialize } from '../data/materialize.ts';
import { takeStage } from '../data/stageStore.ts';
import { answer, answerError, type RequestContext } from './context.ts';

/**
 * Runs a job with its output on this stream: `started`, the output, then `exit`. Detached, the
 * answer is the job's state once it has started, and the job runs on alone; scheduled, the answer
 * is its record. A job with an upload gets it in its /work first (also a detached or scheduled one:
 * the files are in its directory from the moment it is created, and survive agent restarts).
 */
export function handleRun(request: RunRequest, context: RequestContext): void {
  const terms = jobTerms(context.caller, request);
  if (request.stage !== undefined) {
    const stage = request.stage;
    runWithUpload(request, stage, context, terms).catch((err: unknown) => answerError(context, asHerdError(err, 'JOB_FAILED')));
    return;
  }
  begin(request, context, terms);
}

async function runWithUpload(request: RunRequest, stageId: string, context: RequestContext, terms: JobTerms): Promise<void> {
  const { agent, caller } = context;
  if (request.isolation === 'none') {
    throw new HerdError('INVALID_SPEC', '--upload lands in the job\'s /work, and a host-mode job (--isolation none) has none', { hint: 'copy files to hosts with herd cp, or run the job in its sandbox' });
  }
  const stage = takeStage(agent.paths.stages, stageId, caller);
  const id = newJobId();
  // The request as it will run, checked before anything is written (network, limits, command).
  const { plan } = planFor(agent, request, id);
  const dir = join(agent.paths.jobs, id);
  // Exclusive: a new directory of this job's own, or nothing is written.
  mkdirSync(dir, { mode: 0o700 });
  try {
    await materialize(stage, new BlobStore(agent.paths.blobs), join(dir, 'work'), hostOwner(plan));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  begin(request, context, terms, id);
}

function begin(request: RunRequest, context: RequestContext, terms: JobTerms, fixedId?: string): void {
  const { agent, session, stream } = context;
  if (request.schedule !== undefined) {
    answer(context, { t: 'jobs', jobs: [scheduleJob(agent, request, terms, fixedId)] });
    return;
  }
  const job = startJob(agent, request, terms, fixedId);
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
