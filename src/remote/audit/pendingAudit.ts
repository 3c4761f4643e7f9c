import type { HerdError } from '../../protocol/errors.ts';
import type { Message } from '../../protocol/messages.ts';
import type { AuditOutcome } from '../../shared/auditChain.ts';
import { outcomeOf, type Auditor, type AuditWho, type ConnectionOrigin } from './auditor.ts';

/**
 * A request's audit line, written once: when the request is refused or fails, when it is answered,
 * or when its handler returns (a read being streamed), or for a run, when its job has started and
 * has an id.
 */
export class PendingAudit {
  private written = false;

  constructor(
    private readonly auditor: Auditor,
    private readonly action: string,
    private readonly who: AuditWho,
    private readonly origin: ConnectionOrigin,
    private target: string | undefined,
    private readonly detail: Record<string, unknown> | undefined,
  ) {}

  ok(target?: string): void {
    this.write('ok', target);
  }

  failed(error: HerdError): void {
    this.write(outcomeOf(error), undefined, { code: error.code, message: error.message });
  }

  /** The request's last answer: an error, or (a job's id in full, where the request named a prefix) a success. */
  answered(message: Message): void {
    if (message.t === 'error') {
      this.write(outcomeOf(message), undefined, { code: message.code, message: message.message });
      return;
    }
    const job = message.t === 'jobs' && message.jobs.length === 1 ? message.jobs[0] : undefined;
    this.write('ok', job?.id);
  }

  private write(outcome: AuditOutcome, target: string | undefined, error?: { code: string; message: string }): void {
    if (this.written) return;
    this.written = true;
    if (target !== undefined) this.target = target;
    this.auditor.record(
      {
        action: this.action,
        outcome,
        ...(error === undefined ? {} : { code: error.code, message: error.message }),
        ...(this.target === undefined ? {} : { target: this.target }),
        ...(this.detail === undefined ? {} : { detail: this.detail }),
      },
      this.who,
      this.origin,
    );
  }
}
