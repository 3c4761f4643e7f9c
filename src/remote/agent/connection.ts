import { asHerdError, HerdError, toStreamError } from '../../protocol/errors.ts';
import { hostAccept, hostHello, newNonce, type ConnectionFacts } from '../../protocol/handshake.ts';
import { keyId, parseCert } from '../../protocol/cert.ts';
import type { Message } from '../../protocol/messages.ts';
import { Channel, type Session } from '../../protocol/session.ts';
import type { AgentState } from './agentState.ts';
import { addCa, refreshTrust, storeHostCert, storeRevocations } from './identity.ts';
import { answerError, type Caller, type RequestContext } from '../requests/context.ts';
import { StreamRegistry } from '../requests/streams.ts';
import { dispatch, isRequest } from '../requests/table.ts';
import { detailOf, NOBODY, outcomeOf, targetOf, UNKNOWN_ORIGIN, type AuditWho, type ConnectionOrigin } from '../audit/auditor.ts';
import { PendingAudit } from '../audit/pendingAudit.ts';
import { AUDIT_BUDGET } from '../audit/auditBudget.ts';
import { wireSession, type ByteReadable, type ByteWritable } from '../../shared/wiredSession.ts';
import { HANDSHAKE_TIMEOUT_MS, MAX_CONNECTIONS_PER_SUBJECT, MAX_FRAME_PAYLOAD, PREAUTH_PING_BYTES, PREAUTH_PINGS } from '../../protocol/limits.ts';

type Phase = { step: 'auth'; hostNonce: string } | { step: 'ready'; caller: Caller };

/** Who a refused certificate says it is: the audit log keeps the claim (it proves nothing). */
function claimedBy(cert: string): AuditWho {
  try {
    const body = parseCert(cert).body;
    return { subject: body.subject, serial: body.serial, role: body.role, ca: body.issuer };
  } catch {
    return NOBODY;
  }
}

const UNAUTHENTICATED = '(refused handshakes)';
const budgetKey = (caller: Caller): string => `${caller.ca} ${caller.subject}`;

function overBudget(caller: Caller): HerdError {
  return new HerdError('LIMIT', `${caller.subject} sent more requests than this host's audit log takes at once (${AUDIT_BUDGET.burst}, then ${AUDIT_BUDGET.perSecond} a second)`, {
    hint: 'wait a few seconds; a script sending this many should batch its work',
  });
}

/**
 * Serves one client connection: the handshake on stream 0, then one request per stream, each
 * through the request table (../requests/table.ts). Until the peer has authenticated it gets
 * HANDSHAKE_TIMEOUT_MS and tiny pings only; `onAuthenticated` lets the agent count it as a client
 * from then on, or refuse it (false: LIMIT). `facts` says who the peer is beyond its messages: the
 * agent's socket is reachable only by the owner of the state directory (see ConnectionFacts).
 * `known` is who logged in, when the agent knows it without a relay.
 */
export function serveConnection(
  readable: ByteReadable,
  writable: ByteWritable,
  agent: AgentState,
  facts: ConnectionFacts,
  onAuthenticated: (caller: Caller) => boolean = () => true,
  known?: ConnectionOrigin,
): void {
  let phase: Phase = { step: 'auth', hostNonce: newNonce() };
  // Until herd's relay says otherwise (a client on the socket itself is the state's owner); an
  // agent serving its bootstrap's SSH channel knows the login itself, and hears no relay.
  let origin: ConnectionOrigin = known ?? UNKNOWN_ORIGIN;
  let relayed = known !== undefined;
  const streams = new StreamRegistry();
  const nowSeconds = (): number => Math.floor(Date.now() / 1000);

  const session: Session = wireSession(readable, writable, {
    message(stream, message) {
      try {
        if (stream === 0) handshake(message);
        else request(stream, message);
      } catch (err) {
        session.fail(asHerdError(err));
      }
    },
    data(stream, channel, bytes) {
      const stdin = streams.stdinOf(stream);
      if (channel !== Channel.Stdin || stdin === undefined) {
        session.consumed(stream, bytes.length);
        return;
      }
      stdin.writeStdin(bytes, () => session.consumed(stream, bytes.length));
    },
    eof(stream, channel) {
      if (channel === Channel.Stdin) streams.stdinOf(stream)?.endStdin();
    },
    drain(stream) {
      streams.drain(stream);
    },
    closed() {
      clearTimeout(deadline);
      // The client went away; its jobs keep running and keep writing their logs.
      streams.closeAll();
    },
  });

  session.maxPingBytes = PREAUTH_PING_BYTES;
  session.pingBudget = PREAUTH_PINGS;
  const deadline = setTimeout(() => {
    session.fail(new HerdError('PROTOCOL', `no handshake within ${HANDSHAKE_TIMEOUT_MS / 1000} s`));
  }, HANDSHAKE_TIMEOUT_MS);
  (deadline as { unref?: () => void }).unref?.();

  // The host speaks first, so the client can answer with its proof and first request at once. The
  // hello names the CAs and lists held, so what another agent stored since counts already.
  refreshTrust(agent.paths, agent.identity);
  session.sendMessage(0, hostHello(agent.identity, phase.hostNonce));

  function handshake(message: Message): void {
    // The relay speaks before the client's first byte, once; afterwards it is only a relay.
    if (phase.step === 'auth' && message.t === 'relay' && !relayed) {
      relayed = true;
      origin = { login: message.login, from: message.from };
      return;
    }
    relayed = true;
    if (phase.step === 'auth' && message.t === 'auth') {
      let accepted: ReturnType<typeof hostAccept>;
      try {
        accepted = hostAccept(message, agent.identity, phase.hostNonce, nowSeconds(), facts);
      } catch (err) {
        const error = asHerdError(err);
        // A refused certificate proves nothing of who sent it: one budget for all of them.
        if (agent.audit.admit(UNAUTHENTICATED, NOBODY, origin)) {
          agent.audit.record({ action: 'handshake', outcome: outcomeOf(error), code: error.code, message: error.message }, claimedBy(message.cert), origin);
        }
        throw error;
      }
      const caller: Caller = { subject: accepted.subject, role: accepted.role, ca: accepted.ca, serial: accepted.serial };
      const who: AuditWho = { subject: caller.subject, serial: caller.serial, role: caller.role, ca: caller.ca };
      if (!agent.audit.admit(budgetKey(caller), who, origin)) throw overBudget(caller);
      if (!onAuthenticated(caller)) {
        const error = new HerdError('LIMIT', `${accepted.subject} already holds ${MAX_CONNECTIONS_PER_SUBJECT} connections to this host`, { hint: 'use fewer herd processes at once, or --persist to share connections' });
        agent.audit.record({ action: 'handshake', outcome: 'refused', code: error.code, message: error.message }, who, origin);
        throw error;
      }
      agent.audit.record({ action: 'handshake', outcome: 'ok' }, who, origin);
      if (accepted.addCa !== null) {
        addCa(agent.paths, agent.identity, accepted.addCa);
        agent.audit.record({ action: 'trust-add', outcome: 'ok', target: keyId(accepted.addCa), detail: { first: agent.identity.cas.length === 1 } }, who, origin);
      }
      if (accepted.hostCert !== null) {
        storeHostCert(agent.paths, agent.identity, accepted.ca, accepted.hostCert);
        const body = parseCert(accepted.hostCert).body;
        agent.audit.record({ action: 'host-cert', outcome: 'ok', target: body.serial, detail: { subject: body.subject, notAfter: new Date(body.notAfter * 1000).toISOString() } }, who, origin);
      }
      if (accepted.revocations !== null) {
        storeRevocations(agent.paths, agent.identity, accepted.ca, accepted.revocations);
        agent.audit.record({ action: 'revocations', outcome: 'ok', target: `v${accepted.revocations.list.version}`, detail: { ca: accepted.ca } }, who, origin);
      }
      phase = { step: 'ready', caller };
      clearTimeout(deadline);
      session.maxPingBytes = MAX_FRAME_PAYLOAD;
      session.pingBudget = Infinity;
      session.sendMessage(0, {
        t: 'welcome',
        sig: accepted.sig,
        subject: accepted.subject,
        role: accepted.role,
        hostId: keyId(agent.identity.hostKey.publicKey),
        socket: agent.paths.socket,
        agentVersion: agent.version,
      });
      return;
    }
    throw new HerdError('PROTOCOL', `unexpected "${message.t}" during the handshake (step ${phase.step})`);
  }

  function request(stream: number, message: Message): void {
    if (phase.step !== 'ready') throw new HerdError('PROTOCOL', 'a request arrived before the handshake finished');
    if (!isRequest(message)) throw new HerdError('PROTOCOL', `unexpected "${message.t}" request`);
    // A stream carries one request; only a signal may follow a run on its stream.
    if (streams.has(stream) && message.t !== 'signal') throw new HerdError('PROTOCOL', `stream ${stream} is already answering a request`);
    const { caller } = phase;
    const who: AuditWho = { subject: caller.subject, serial: caller.serial, role: caller.role, ca: caller.ca };
    if (!agent.audit.admit(budgetKey(caller), who, origin)) {
      // A signal rides on its run's stream, which stays; it is dropped, and counted as refused.
      if (message.t === 'signal') return;
      session.sendMessage(stream, toStreamError(overBudget(caller)));
      session.close(stream);
      return;
    }
    const audit = new PendingAudit(agent.audit, message.t, who, origin, message.t === 'signal' ? streams.job(stream)?.id : targetOf(message), detailOf(message));
    const context: RequestContext = { agent, caller, stream, session, streams, facts, origin, audit };
    try {
      dispatch(message, context);
    } catch (err) {
      const error = asHerdError(err);
      if (error.code === 'PROTOCOL') throw error;
      answerError(context, error);
    }
  }
}
