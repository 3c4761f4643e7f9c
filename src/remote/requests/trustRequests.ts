import { parseCert } from '../../protocol/cert.ts';
import { HerdError } from '../../protocol/errors.ts';
import type { TrustedCa } from '../../protocol/handshake.ts';
import type { TrustInfo, TrustList, TrustRemove } from '../../protocol/messages.ts';
import { removeCa, trustedSince } from '../agent/identity.ts';
import { answer, type RequestContext } from './context.ts';

function infoOf(ca: TrustedCa, context: RequestContext): TrustInfo {
  let hostCert: TrustInfo['hostCert'] = null;
  if (ca.hostCert !== null) {
    try {
      const body = parseCert(ca.hostCert).body;
      hostCert = { subject: body.subject, serial: body.serial, notAfter: new Date(body.notAfter * 1000).toISOString() };
    } catch {
      // a damaged file: shown as none (clients refuse it as none too)
    }
  }
  return { ca: ca.id, since: trustedSince(context.agent.paths, ca.id), hostCert, revocations: ca.revocations?.list.version ?? 0, yours: ca.id === context.caller.ca };
}

export function listTrust(_request: TrustList, context: RequestContext): void {
  answer(context, { t: 'trust', cas: context.agent.identity.cas.map((ca) => infoOf(ca, context)) });
}

/** Stops trusting a CA: by the state's owner, never the CA this connection came with (the way back must stay open). */
export function removeTrust(request: TrustRemove, context: RequestContext): void {
  const { agent, caller, facts } = context;
  if (!facts.owner) throw new HerdError('PERMISSION_DENIED', 'only the owner of this host\'s herd state may change the CAs it trusts');
  if (request.ca === caller.ca) {
    throw new HerdError('INVALID_SPEC', `CA ${request.ca} is the one you are connected with; nothing changed`, { hint: 'remove it with a certificate of another CA the host trusts (after herd ca rotate: the new one)' });
  }
  removeCa(agent.paths, agent.identity, request.ca);
  answer(context, { t: 'trust', cas: agent.identity.cas.map((ca) => infoOf(ca, context)) });
}
