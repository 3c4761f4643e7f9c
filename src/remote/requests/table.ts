import { asHerdError, HerdError } from '../../protocol/errors.ts';
import type { Message, Request, RequestOf, RequestType } from '../../protocol/messages.ts';
import { allows, type Action } from '../../protocol/roles.ts';
import type { Caller, RequestContext } from './context.ts';
import { deleteJob, jobLogs, jobStatus, listJobs, pruneJobs, stopJob, waitForJob } from './jobRequests.ts';
import { createNetwork, listNetworks, removeNetwork } from './networkRequests.ts';
import { handleRun, handleSignal } from './runRequests.ts';
import { listTrust, removeTrust } from './trustRequests.ts';
import { readAudit } from './auditRequests.ts';
import { handleStage } from './stageRequests.ts';
import { jobRead } from './readRequests.ts';

/** A permission and, for the refusal, what it lets a caller do ("run jobs on this host") and what to do instead. */
export interface Requirement {
  permission: Action;
  may: string;
  hint?: string;
}

export interface Route<T extends RequestType> extends Requirement {
  /** A further permission some requests of the type need (run --network host leaves the sandbox). */
  also?(request: RequestOf<T>): Requirement | null;
  /** Its audit line waits for the answer (or a run's start): what the request did is known only then. */
  auditWhenAnswered?: true;
  handle(request: RequestOf<T>, context: RequestContext): void;
}

/** Every request a host answers: a type without its route does not compile. */
export type RequestTable = { readonly [T in RequestType]: Route<T> };

const ADMIN = 'use an admin certificate';

export const REQUESTS: RequestTable = {
  run: {
    permission: 'run',
    may: 'run jobs on this host',
    hint: 'use a certificate with role user or admin',
    also: (request) =>
      request.isolation === 'none'
        ? { permission: 'leave-sandbox', may: 'run commands on the host itself (--isolation none)', hint: 'host mode needs an admin certificate; other jobs run in a sandbox' }
        : request.network === 'host'
          ? { permission: 'leave-sandbox', may: "run jobs in the host's network (--network host)", hint: 'leaving the sandbox needs an admin certificate; other jobs get a network of their own' }
          : request.pid === 'host'
            ? { permission: 'leave-sandbox', may: "run jobs that see the host's processes (--pid host)", hint: 'leaving the sandbox needs an admin certificate; other jobs see only their own processes' }
            : (request.binds?.length ?? 0) > 0
              ? { permission: 'leave-sandbox', may: 'bind host paths into jobs (--bind)', hint: 'leaving the sandbox needs an admin certificate; other jobs see the host read-only, without homes and secrets' }
              : null,
    auditWhenAnswered: true,
    handle: handleRun,
  },
  signal: { permission: 'signal', may: 'signal jobs', handle: handleSignal },
  'network-list': { permission: 'network-list', may: 'list networks', handle: listNetworks },
  'network-create': { permission: 'network-manage', may: 'create networks', hint: ADMIN, auditWhenAnswered: true, handle: createNetwork },
  'network-remove': { permission: 'network-manage', may: 'remove networks', hint: ADMIN, auditWhenAnswered: true, handle: removeNetwork },
  'job-list': { permission: 'status', may: 'see jobs', handle: listJobs },
  'job-status': { permission: 'status', may: 'see jobs', handle: jobStatus },
  'job-wait': { permission: 'status', may: 'see jobs', handle: waitForJob },
  'job-logs': { permission: 'status', may: 'see jobs', handle: jobLogs },
  'job-stop': { permission: 'signal', may: 'stop jobs', handle: stopJob },
  'job-delete': { permission: 'signal', may: 'delete jobs', handle: deleteJob },
  'job-prune': { permission: 'signal', may: 'prune jobs', handle: pruneJobs },
  'trust-list': { permission: 'status', may: 'see the CAs this host trusts', handle: listTrust },
  'trust-remove': { permission: 'trust-manage', may: 'change the CAs this host trusts', hint: ADMIN, handle: removeTrust },
  'audit-read': { permission: 'audit-read', may: "read this host's audit log", handle: readAudit },
  // Staging is half of running a job: who may run may upload what the job gets.
  // Its own jobs' files for a user; another's need manage-any-job (checked with the job).
  'job-read': { permission: 'run', may: 'read the files of jobs', hint: 'use a certificate with role user or admin', handle: jobRead },
  stage: { permission: 'run', may: 'upload files for jobs on this host', hint: 'use a certificate with role user or admin', auditWhenAnswered: true, handle: handleStage },
};

export function isRequest(message: Message): message is Request {
  return Object.hasOwn(REQUESTS, message.t);
}

function check(requirement: Requirement, caller: Caller): void {
  if (allows(caller.role, requirement.permission)) return;
  throw new HerdError('PERMISSION_DENIED', `role "${caller.role}" (${caller.subject}) may not ${requirement.may}`, requirement.hint === undefined ? {} : { hint: requirement.hint });
}

/**
 * The one place a request meets the caller's role: checked against its route, then handled. Each
 * request leaves one line in the host's audit log, a refusal too.
 */
export function dispatch(request: Request, context: RequestContext, table: RequestTable = REQUESTS): void {
  // The table is indexed by the request's own type, so the route takes exactly this request.
  const route = table[request.t] as unknown as Route<RequestType>;
  try {
    check(route, context.caller);
    const further = route.also?.(request) ?? null;
    if (further !== null) check(further, context.caller);
    route.handle(request, context);
  } catch (err) {
    context.audit.failed(asHerdError(err));
    throw err;
  }
  if (route.auditWhenAnswered !== true) context.audit.ok();
}
