import { ROLES, type Role } from '../roles.ts';
import { bool, fail, int, nullableStr, oneOf, str, type Validators } from './check.ts';
import { MAX_TRUSTED_CAS } from '../limits.ts';

/** Session stream 0: the handshake (see ../handshake.ts). The host speaks first. */
export interface HostHello {
  t: 'hello';
  /** Protocol versions the host speaks. */
  versions: number[];
  nonce: string;
  hostKey: string;
  /** The CAs the host trusts, oldest first (none before the first admin enrolled it). */
  trust: TrustEntry[];
}
/** One CA a host trusts, as its hello tells it. */
export interface TrustEntry {
  /** Key id of the CA. */
  ca: string;
  /** The host certificate the CA signed for the host key, or null. */
  hostCert: string | null;
  /** The version of the CA's revocation list the host holds (0: none); a client sends only a newer one. */
  revocations: number;
}
export interface Auth {
  t: 'auth';
  /** The version the client chose from the host's list. */
  version: number;
  nonce: string;
  cert: string;
  sig: string;
  /** The CA public key, sent to a host that does not trust it yet (enrolment). */
  caKey?: string;
  /** Asks a host that trusts other CAs to add this one (herd host trust). */
  addCa?: boolean;
  /** A certificate for the host key, signed by the client's CA. */
  hostCert?: string;
  /** The CA's signed revocation list (revocations.ts); the host keeps the newest it sees. */
  revocations?: string;
}
export interface Welcome {
  t: 'welcome';
  /** The host key's signature over the proof bytes: the host is live and holds its key. */
  sig: string;
  subject: string;
  role: Role;
  hostId: string;
  /** The agent's unix socket on the host, so a later connection can reach it directly. */
  socket: string;
  /** The sha256 of the helper the agent runs. */
  agentVersion: string;
}

export type HandshakeMessage = HostHello | Auth | Welcome;

export const HANDSHAKE_VALIDATORS: Validators<HandshakeMessage> = {
  hello(o) {
    str(o, 'nonce');
    if (!Array.isArray(o.versions) || o.versions.length > 16 || !o.versions.every(Number.isSafeInteger)) fail('hello.versions');
    str(o, 'hostKey');
    if (!Array.isArray(o.trust) || o.trust.length > MAX_TRUSTED_CAS) fail('hello.trust');
    for (const entry of o.trust as unknown[]) {
      if (typeof entry !== 'object' || entry === null) fail('hello.trust[]');
      const e = entry as Record<string, unknown>;
      str(e, 'ca');
      nullableStr(e, 'hostCert');
      if (!(Number.isSafeInteger(e.revocations) && (e.revocations as number) >= 0)) fail('hello.trust[].revocations');
    }
  },
  auth(o) {
    int(o, 'version');
    str(o, 'nonce');
    str(o, 'cert');
    str(o, 'sig');
    str(o, 'caKey', true);
    bool(o, 'addCa', true);
    str(o, 'hostCert', true);
    str(o, 'revocations', true);
  },
  welcome(o) {
    str(o, 'sig');
    str(o, 'subject');
    str(o, 'hostId');
    str(o, 'socket');
    str(o, 'agentVersion');
    oneOf(o, 'role', ROLES);
  },
};
