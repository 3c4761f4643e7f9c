import { ROLES, type Role } from '../roles.ts';
import { fail, int, nullableStr, oneOf, str, type Validators } from './check.ts';

/** Session stream 0: the handshake (see ../handshake.ts). The host speaks first. */
export interface HostHello {
  t: 'hello';
  /** Protocol versions the host speaks. */
  versions: number[];
  nonce: string;
  hostKey: string;
  hostCert: string | null;
  /** Key id of the CA this host trusts, or null before the first admin enrolled it. */
  trustedCa: string | null;
  /** The version of that CA's revocation list the host holds (0: none); a client sends only a newer one. Absent from older hosts. */
  revocations?: number;
}
export interface Auth {
  t: 'auth';
  /** The version the client chose from the host's list. */
  version: number;
  nonce: string;
  cert: string;
  sig: string;
  /** The CA public key, sent so a host that trusts no CA yet can pin it. */
  caKey?: string;
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
    nullableStr(o, 'hostCert');
    nullableStr(o, 'trustedCa');
    if (o.revocations !== undefined && !(Number.isSafeInteger(o.revocations) && (o.revocations as number) >= 0)) fail('hello.revocations');
  },
  auth(o) {
    int(o, 'version');
    str(o, 'nonce');
    str(o, 'cert');
    str(o, 'sig');
    str(o, 'caKey', true);
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
