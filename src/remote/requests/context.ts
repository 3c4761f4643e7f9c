import { toStreamError, type HerdError } from '../../protocol/errors.ts';
import type { Message, Role } from '../../protocol/messages.ts';
import type { Session } from '../../protocol/session.ts';
import type { ConnectionFacts } from '../../protocol/handshake.ts';
import type { AgentState } from '../agent/agentState.ts';
import type { StreamRegistry } from './streams.ts';
import type { ConnectionOrigin } from '../audit/auditor.ts';
import type { PendingAudit } from '../audit/pendingAudit.ts';

/** Who sent a request, as its certificate says. */
export interface Caller {
  subject: string;
  role: Role;
  /** Key id of the CA that issued the certificate: subjects are unique per CA only. */
  ca: string;
  serial: string;
}

/** What a request's handler works with: the host, the caller, and its own stream of the connection. */
export interface RequestContext {
  agent: AgentState;
  caller: Caller;
  stream: number;
  session: Session;
  streams: StreamRegistry;
  /** Who the peer is beyond its certificate (the state's owner: it reached the agent's socket). */
  facts: ConnectionFacts;
  /** Where the connection came from, as herd's relay told the agent. */
  origin: ConnectionOrigin;
  /** This request's line in the host's audit log. */
  audit: PendingAudit;
}

/** Sends the request's last answer and closes its stream. */
export function answer(context: RequestContext, message: Message): void {
  context.audit.answered(message);
  context.streams.forget(context.stream);
  context.session.sendMessage(context.stream, message);
  context.session.close(context.stream);
}

/** Answers the request with its error; the session stays up. */
export function answerError(context: RequestContext, error: HerdError): void {
  answer(context, toStreamError(error));
}
