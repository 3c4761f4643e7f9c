import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import type { JobInfo, RunRequest } from '../../protocol/messages.ts';
import type { AgentState } from '../agent/agentState.ts';
import { DEFAULT_MAX_LOG_BYTES } from './logs/jobLog.ts';
import { toInfo, unstartedRecord, writeRecord, type JobRecord } from './jobRecord.ts';
import { jobTerms, type JobTerms } from './jobTerms.ts';
import { planFor, startJob } from './startJob.ts';
import { newJobId } from './jobId.ts';

/** The furthest ahead a job may be scheduled. */
const MAX_SCHEDULE_AHEAD_MS = 366 * 24 * 3600 * 1000;

/**
 * Creates a SCHEDULED job: checked now as if it started now (command syntax, network, limits),
 * recorded with its request, started by the scheduler when its time comes.
 */
export function scheduleJob(agent: AgentState, message: RunRequest, terms: JobTerms, fixedId?: string): JobInfo {
  const at = Date.parse(message.schedule ?? '');
  if (Number.isNaN(at)) throw new HerdError('INVALID_SPEC', `--schedule: "${message.schedule}" is not a time`);
  if (at - Date.now() > MAX_SCHEDULE_AHEAD_MS) throw new HerdError('INVALID_SPEC', `--schedule: ${message.schedule} is more than a year ahead`);
  const id = fixedId ?? newJobId();
  const { plan } = planFor(agent, message, id);
  const now = new Date().toISOString();
  // The -e values stay in this agent's memory (Scheduler): never in job.json.
  const { schedule: _schedule, detach: _detach, env, ...request } = message;
  const envNames = Object.keys(env);
  const record: JobRecord = {
    ...unstartedRecord({
      id,
      argv: plan.argv,
      state: 'SCHEDULED',
      owner: terms.owner,
      ...(terms.ownerCa === '' ? {} : { ownerCa: terms.ownerCa }),
      hostname: plan.hostname,
      network: plan.network,
      createdAt: now,
      scheduledFor: new Date(at).toISOString(),
      timeoutMs: terms.timeoutMs ?? null,
      maxLogBytes: terms.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES,
    }),
    request: { ...request, t: 'run', env: {} },
    ...(envNames.length === 0 ? {} : { envHeld: envNames }),
  };
  mkdirSync(join(agent.book.dir, id), { recursive: true, mode: 0o700 });
  agent.scheduler.add(record, env);
  return toInfo(record);
}

/** Starts a scheduled job whose time has come; a job that cannot start is recorded FAILED. */
export function startScheduled(agent: AgentState, record: JobRecord): void {
  const request = record.request;
  const terms = jobTerms({ subject: record.owner, ca: record.ownerCa ?? '' }, request ?? {}, { createdAt: record.createdAt, ...(record.scheduledFor === null ? {} : { scheduledFor: record.scheduledFor }) });
  try {
    if (request === undefined) throw new HerdError('JOB_FAILED', 'the scheduled job\'s request is missing from its record');
    const env = agent.scheduler.takeEnv(record.id);
    const held = record.envHeld ?? [];
    if (held.length > 0 && env === undefined) {
      throw new HerdError('JOB_FAILED', `its environment (${held.join(', ')}) was held only in the memory of the agent that took the request, and that agent is gone (it was stopped, or the host restarted); schedule the job again`);
    }
    const job = startJob(agent, { ...request, env: { ...request.env, ...env } }, terms, record.id);
    agent.book.track(job);
    job.endStdin();
  } catch (err) {
    const failed: JobRecord = { ...record, state: 'FAILED', reason: `could not start: ${(err as Error).message}`, endedAt: new Date().toISOString() };
    delete failed.request;
    writeRecord(join(agent.book.dir, record.id), failed);
  }
}
