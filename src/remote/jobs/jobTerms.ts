import type { RunRequest } from '../../protocol/messages.ts';

/** Who started a job and how it is to be looked after. */
export interface JobTerms {
  owner: string;
  /** Key id of the owner's CA. */
  ownerCa: string;
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL when the timeout stops the job. */
  graceMs?: number;
  maxLogBytes?: number;
  /** When a scheduled job was created and for when (it starts now, late or on time). */
  createdAt?: string;
  scheduledFor?: string;
}

/** A request's terms for the job it starts, owned by the certificate (CA and subject) that asked. */
export function jobTerms(owner: { subject: string; ca: string }, request: Pick<RunRequest, 'timeoutMs' | 'graceMs' | 'maxLogBytes'>, when: Pick<JobTerms, 'createdAt' | 'scheduledFor'> = {}): JobTerms {
  return {
    owner: owner.subject,
    ownerCa: owner.ca,
    ...when,
    ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
    ...(request.graceMs === undefined ? {} : { graceMs: request.graceMs }),
    ...(request.maxLogBytes === undefined ? {} : { maxLogBytes: request.maxLogBytes }),
  };
}
