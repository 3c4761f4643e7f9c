import { concat, fromBase64Url, toBase64Url, utf8 } from './bytes.ts';
import { certPublicKey, issueCert, keyId, randomBytes, sign, verifyCert, verifySignature, type KeyPair } from './cert.ts';
import { HerdError } from './errors.ts';
import { parseRevocations, revocationOf, revocationsVersion, type Revocations } from './revocations.ts';
import type { Auth, HostHello, Role, Welcome } from './messages.ts';

/*
 * The handshake, step by step (each step names itself in its errors). The host speaks first,
 * so the client can judge it before it says anything:
 *   1 host-hello  H→C  versions, host nonce, host key, host cert, trusted CA id
 *   2 auth        C→H  chosen version, client nonce, client cert, client signature over
 *                        CLIENT_PROOF ‖ nonceH ‖ nonceC ‖ hostKey; the CA key when the host trusts
 *                        none yet; a host cert when it has none (an admin's client only)
 *   3 welcome     H→C  host signature over HOST_PROOF ‖ nonceC ‖ nonceH ‖ hostKey, subject, role
 * Binding both nonces and the host key into each signature stops replay and relay to another
 * host. The client checks the static parts of the host (its CA, its certificate and the name in
 * it) before step 2, and the host's live proof at step 3, before it sends any request.
 */
export const PROTOCOL_VERSIONS: readonly number[] = [1];
const HOST_PROOF = utf8('herd-host-proof-v1');
const CLIENT_PROOF = utf8('herd-client-proof-v1');
/** Host certificates issued during enrolment last ten years; revocation is by re-keying the host. */
export const HOST_CERT_TTL_SECONDS = 10 * 365 * 24 * 3600;

export function newNonce(): string {
  return toBase64Url(randomBytes(32));
}

function decodeKey(text: string, step: string): Uint8Array {
  try {
    const key = fromBase64Url(text);
    if (key.length === 32 || key.length === 64) return key;
  } catch {
    // fall through
  }
  throw new HerdError('PROTOCOL', `${step}: malformed key or signature`);
}

export interface HostIdentity {
  hostKey: KeyPair;
  hostCert: string | null;
  /** The CA this host trusts, or null before enrolment. */
  caKey: Uint8Array | null;
  /** The newest revocation list of that CA this host has seen, and its text. */
  revocations?: { list: Revocations; text: string } | null;
}

export function chooseVersion(offered: readonly number[]): number {
  const common = offered.filter((v) => PROTOCOL_VERSIONS.includes(v));
  if (common.length === 0) {
    throw new HerdError(
      'VERSION_MISMATCH',
      `host-hello: the host speaks protocol ${offered.join(',') || 'none'}, this client speaks ${PROTOCOL_VERSIONS.join(',')}`,
      { hint: 'use the same herd version on this machine as the one that installed the helper' },
    );
  }
  return Math.max(...common);
}

export function hostHello(host: HostIdentity, hostNonce: string): HostHello {
  return {
    t: 'hello',
    versions: [...PROTOCOL_VERSIONS],
    nonce: hostNonce,
    hostKey: toBase64Url(host.hostKey.publicKey),
    hostCert: host.hostCert,
    trustedCa: host.caKey === null ? null : keyId(host.caKey),
    revocations: host.revocations?.list.version ?? 0,
  };
}

export interface ClientIdentity {
  cert: string;
  secretKey: Uint8Array;
  caKey: Uint8Array;
  /** Present when this client holds the CA (an admin's config): lets it enrol hosts. */
  caSecretKey?: Uint8Array;
  /** The CA's revocation list the config carries, given to every host (which keeps the newest). */
  revocations?: string;
}

export interface ClientPending {
  hostKey: Uint8Array;
  clientNonce: string;
  hostNonce: string;
}

/** Who the client dialled: the names a host certificate may carry, and the one an enrolment writes. */
export interface DialledHost {
  /** Subjects accepted in the host's certificate (the address, and the names it was reached by). */
  names: readonly string[];
  /** The subject of a host certificate this client signs at enrolment (the host's address). */
  enrolAs: string;
}

/**
 * Step 2 on the client: check what the host can show before any proof, and build our auth.
 * Nothing of the client's leaves unless the host either proves to be a host of our CA (a host
 * certificate from it for this host key and a name we dialled), or is unenrolled and we are the
 * admin who enrols it.
 */
export function clientAuth(
  hello: HostHello,
  client: ClientIdentity,
  clientNonce: string,
  nowSeconds: number,
  dialled: DialledHost,
): { auth: Auth; pending: ClientPending; enrolled: boolean } {
  const version = chooseVersion(hello.versions);
  const hostKey = decodeKey(hello.hostKey, 'host-hello');
  const ourCa = keyId(client.caKey);
  const admin = client.caSecretKey !== undefined;
  if (hello.trustedCa !== null && hello.trustedCa !== ourCa) {
    throw new HerdError('CERT_UNTRUSTED', `host-hello: this host trusts CA ${hello.trustedCa}, but your identity comes from CA ${ourCa}`, {
      hint: "use a certificate issued by the CA the host trusts (herd cert issue on that CA's admin config)",
    });
  }
  if (hello.trustedCa === null && !admin) {
    throw new HerdError('PERMISSION_DENIED', 'host-hello: this host trusts no CA yet, and only an admin may enrol it (your certificate is not one)', {
      hint: 'an admin runs any herd command on it once (that enrols it); then your certificate works there',
    });
  }
  if (hello.trustedCa !== null) {
    if (hello.hostCert === null) {
      // An enrolled host has a certificate from its first admin; one without can be anyone, and an
      // admin signing for it would certify whoever relays a real host's hello (a man in the middle).
      throw new HerdError('CERT_UNTRUSTED', 'host-hello: the host says it trusts your CA but shows no host certificate from it, so it cannot prove it is a host of your fleet', {
        hint: 'if it is yours and lost its certificate, remove ca.pub from its state directory (/var/lib/herd for root) and run herd on it once as an admin to enrol it again',
      });
    } else {
      const body = verifyCert(hello.hostCert, client.caKey, nowSeconds);
      if (body.role !== 'host' || body.publicKey !== toBase64Url(hostKey)) {
        throw new HerdError('CERT_UNTRUSTED', 'host-hello: the host certificate is not for this host key');
      }
      if (!dialled.names.includes(body.subject)) {
        throw new HerdError('CERT_UNTRUSTED', `host-hello: the host's certificate is for ${JSON.stringify(body.subject)}, not for ${dialled.names.map((n) => JSON.stringify(n)).join(' or ')}, which you dialled`, {
          hint: 'another host of your fleet answered for this one (check DNS, addresses and ~/.ssh/config), or the host was enrolled under another address',
        });
      }
    }
  }
  const sig = sign(concat([CLIENT_PROOF, utf8(hello.nonce), utf8(clientNonce), hostKey]), client.secretKey);
  const auth: Auth = { t: 'auth', version, nonce: clientNonce, cert: client.cert, sig: toBase64Url(sig) };
  if (hello.trustedCa === null) auth.caKey = toBase64Url(client.caKey);
  // Only a list newer than the host's crosses the wire (10,000 serials are 107 KB); an older host says nothing, and gets it.
  if (client.revocations !== undefined && (hello.revocations === undefined || revocationsVersion(client.revocations) > hello.revocations)) auth.revocations = client.revocations;
  // Enrolment: only of a host that trusts no CA yet.
  if (hello.trustedCa === null && client.caSecretKey !== undefined) {
    auth.hostCert = issueCert(
      { publicKey: client.caKey, secretKey: client.caSecretKey },
      { subject: dialled.enrolAs, role: 'host', publicKey: hostKey, now: nowSeconds, ttlSeconds: HOST_CERT_TTL_SECONDS },
    );
  }
  return { auth, pending: { hostKey, clientNonce, hostNonce: hello.nonce }, enrolled: auth.hostCert !== undefined };
}

/** Step 3 on the client: the host's live proof. */
export function clientCheckWelcome(welcome: Welcome, pending: ClientPending): void {
  const proof = concat([HOST_PROOF, utf8(pending.clientNonce), utf8(pending.hostNonce), pending.hostKey]);
  if (!verifySignature(proof, decodeKey(welcome.sig, 'welcome'), pending.hostKey)) {
    throw new HerdError('CERT_UNTRUSTED', 'welcome: the host could not prove it holds its host key');
  }
}

export interface Accepted {
  subject: string;
  role: Role;
  /** Set when this handshake enrolled the host: the CA to pin. */
  pinCa: Uint8Array | null;
  /** A host certificate to store. */
  hostCert: string | null;
  /** The host's proof for the welcome message. */
  sig: string;
  /** A revocation list newer than the host's, to keep. */
  revocations: { list: Revocations; text: string } | null;
}

/** Step 2 on the host: verify the client's version, certificate and proof. */
export function hostAccept(auth: Auth, host: HostIdentity, hostNonce: string, nowSeconds: number): Accepted {
  if (!PROTOCOL_VERSIONS.includes(auth.version)) {
    throw new HerdError('VERSION_MISMATCH', `auth: the client chose protocol ${auth.version}, this helper speaks ${PROTOCOL_VERSIONS.join(',')}`);
  }
  let ca = host.caKey;
  let pinCa: Uint8Array | null = null;
  if (ca === null) {
    if (auth.caKey === undefined) throw new HerdError('CERT_UNTRUSTED', 'auth: this host trusts no CA yet and the client sent none');
    ca = decodeKey(auth.caKey, 'auth');
    const first = verifyCert(auth.cert, ca, nowSeconds);
    // Trust on first use: only an admin, already authenticated by SSH, may choose the CA.
    if (first.role !== 'admin') {
      throw new HerdError('PERMISSION_DENIED', `auth: this host trusts no CA yet; the first identity to reach it must be an admin, not a ${first.role}`);
    }
    pinCa = ca;
  }
  const body = verifyCert(auth.cert, ca, nowSeconds);
  // The newest list wins: one the client carries replaces the host's only when it is newer.
  let revocations = host.revocations ?? null;
  let newer: Accepted['revocations'] = null;
  if (auth.revocations !== undefined && auth.revocations !== revocations?.text) {
    const offered = parseRevocations(auth.revocations, ca);
    if (revocations === null || offered.version > revocations.list.version) revocations = newer = { list: offered, text: auth.revocations };
  }
  const revoked = revocations === null ? null : revocationOf(revocations.list, body);
  if (revoked !== null) {
    throw new HerdError('CERT_REVOKED', `auth: certificate "${body.subject}" is revoked by CA ${keyId(ca)}: ${revoked}`, { hint: 'ask an admin for a new certificate' });
  }
  if (body.role === 'host') throw new HerdError('PERMISSION_DENIED', 'auth: a host certificate cannot be used to log in');
  const proof = concat([CLIENT_PROOF, utf8(hostNonce), utf8(auth.nonce), host.hostKey.publicKey]);
  if (!verifySignature(proof, decodeKey(auth.sig, 'auth'), certPublicKey(body))) {
    throw new HerdError('CERT_UNTRUSTED', `auth: the client could not prove it holds the key of certificate "${body.subject}"`);
  }
  let hostCert: string | null = null;
  // Only at enrolment, or for a host without one: a certificate it has is never replaced.
  if (auth.hostCert !== undefined && body.role === 'admin' && (pinCa !== null || host.hostCert === null)) {
    const hostBody = verifyCert(auth.hostCert, ca, nowSeconds);
    if (hostBody.role === 'host' && hostBody.publicKey === toBase64Url(host.hostKey.publicKey)) hostCert = auth.hostCert;
  }
  const hostSig = sign(concat([HOST_PROOF, utf8(auth.nonce), utf8(hostNonce), host.hostKey.publicKey]), host.hostKey.secretKey);
  return { subject: body.subject, role: body.role, pinCa, hostCert, sig: toBase64Url(hostSig), revocations: newer };
}
