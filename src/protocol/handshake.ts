import { concat, fromBase64Url, toBase64Url, utf8 } from './bytes.ts';
import { certPublicKey, issueCert, keyId, parseCert, randomBytes, sign, verifyCert, verifySignature, type KeyPair } from './cert.ts';
import { HerdError } from './errors.ts';
import { MAX_TRUSTED_CAS } from './limits.ts';
import { parseRevocations, revocationOf, revocationsVersion, type Revocations } from './revocations.ts';
import type { Auth, HostHello, Role, Welcome } from './messages.ts';

/*
 * The handshake, step by step (each step names itself in its errors). The host speaks first,
 * so the client can judge it before it says anything:
 *   1 host-hello  H→C  versions, host nonce, host key, and per trusted CA: its id, the host cert
 *                        it signed, the version of its revocation list held
 *   2 auth        C→H  chosen version, client nonce, client cert, client signature over
 *                        CLIENT_PROOF ‖ nonceH ‖ nonceC ‖ hostKey; when the host does not trust
 *                        our CA (enrolment, herd host trust): the CA key and a host cert from it
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

/** One CA a host trusts, with what the host holds of it. */
export interface TrustedCa {
  key: Uint8Array;
  /** keyId(key) */
  id: string;
  /** The host certificate this CA signed for the host key, or null. */
  hostCert: string | null;
  /** The newest revocation list of this CA the host has seen, and its text. */
  revocations: { list: Revocations; text: string } | null;
}

export interface HostIdentity {
  hostKey: KeyPair;
  /** The CAs this host trusts, oldest first; empty before enrolment. */
  cas: TrustedCa[];
  /** The CA jobs recorded without one belong to (herd before several CAs trusted one); null when none. */
  legacyCa: string | null;
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
    trust: host.cas.map((ca) => ({ ca: ca.id, hostCert: ca.hostCert, revocations: ca.revocations?.list.version ?? 0 })),
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
  /** CAs this client held before (herd ca rotate): a host certificate of one keeps its subject when the new CA signs the host. */
  previousCaKeys?: readonly Uint8Array[];
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
  /** Ask a host that trusts other CAs to add ours (herd host trust): only its herd state's owner may. */
  addCa?: boolean;
}

/** The subject a host certificate of `ca` gives this host key, or null when it has none that checks out. */
function certifiedName(hello: HostHello, hostKey: Uint8Array, caKey: Uint8Array, nowSeconds: number): string | null {
  const entry = hello.trust.find((t) => t.ca === keyId(caKey));
  if (entry?.hostCert === null || entry === undefined) return null;
  try {
    const body = verifyCert(entry.hostCert, caKey, nowSeconds);
    return body.role === 'host' && body.publicKey === toBase64Url(hostKey) ? body.subject : null;
  } catch {
    return null;
  }
}

/**
 * Step 2 on the client: check what the host can show before any proof, and build our auth.
 * Nothing of the client's leaves unless the host either proves to be a host of our CA (a host
 * certificate from it for this host key and a name we dialled), or is one we are the admin to
 * enrol: a host that trusts no CA yet, or, asked for (herd host trust), one that trusts others.
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
  const ours = hello.trust.find((t) => t.ca === ourCa);
  const enrolling = ours === undefined;
  if (enrolling && hello.trust.length > 0 && dialled.addCa !== true) {
    throw new HerdError('CERT_UNTRUSTED', `host-hello: this host trusts CA ${hello.trust.map((t) => t.ca).join(', ')}, but your identity comes from CA ${ourCa}`, {
      hint: 'if you log in to it as the owner of its herd state, add your CA: herd host trust -H HOST (an admin config); else use a certificate of a CA it trusts',
    });
  }
  if (enrolling && !admin) {
    const why = hello.trust.length === 0 ? 'this host trusts no CA yet, and only an admin may enrol it' : 'only an admin config (one holding its CA) may add its CA to a host';
    throw new HerdError('PERMISSION_DENIED', `host-hello: ${why} (your certificate is not one)`, {
      hint: 'an admin runs any herd command on it once (that enrols it); then your certificate works there',
    });
  }
  if (ours !== undefined) {
    if (ours.hostCert === null) {
      // An enrolled host has a certificate from the admin who added the CA; one without can be anyone,
      // and an admin signing for it would certify whoever relays a real host's hello (a man in the middle).
      throw new HerdError('CERT_UNTRUSTED', 'host-hello: the host says it trusts your CA but shows no host certificate from it, so it cannot prove it is a host of your fleet', {
        hint: `if it is yours and lost its certificate, remove trust/${ourCa}.pub from its state directory (/var/lib/herd for root) and run herd host trust on it`,
      });
    }
    const body = verifyCert(ours.hostCert, client.caKey, nowSeconds);
    if (body.role !== 'host' || body.publicKey !== toBase64Url(hostKey)) {
      throw new HerdError('CERT_UNTRUSTED', 'host-hello: the host certificate is not for this host key');
    }
    if (!dialled.names.includes(body.subject)) {
      throw new HerdError('CERT_UNTRUSTED', `host-hello: the host's certificate is for ${JSON.stringify(body.subject)}, not for ${dialled.names.map((n) => JSON.stringify(n)).join(' or ')}, which you dialled`, {
        hint: 'another host of your fleet answered for this one (check DNS, addresses and ~/.ssh/config), or the host was enrolled under another address',
      });
    }
  }
  const sig = sign(concat([CLIENT_PROOF, utf8(hello.nonce), utf8(clientNonce), hostKey]), client.secretKey);
  const auth: Auth = { t: 'auth', version, nonce: clientNonce, cert: client.cert, sig: toBase64Url(sig) };
  // Only a list newer than the host's crosses the wire (10,000 serials are 107 KB).
  if (client.revocations !== undefined && revocationsVersion(client.revocations) > (ours?.revocations ?? 0)) auth.revocations = client.revocations;
  if (enrolling && client.caSecretKey !== undefined) {
    auth.caKey = toBase64Url(client.caKey);
    if (hello.trust.length > 0) auth.addCa = true;
    // Through a rotation the host keeps the name the old CA certified, if one of ours did.
    const kept = (client.previousCaKeys ?? []).map((key) => certifiedName(hello, hostKey, key, nowSeconds)).find((name) => name !== null && dialled.names.includes(name));
    auth.hostCert = issueCert(
      { publicKey: client.caKey, secretKey: client.caSecretKey },
      { subject: kept ?? dialled.enrolAs, role: 'host', publicKey: hostKey, now: nowSeconds, ttlSeconds: HOST_CERT_TTL_SECONDS },
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
  serial: string;
  role: Role;
  /** Key id of the CA of the caller's certificate. */
  ca: string;
  /** Set when this handshake enrols the host with a CA (the first, or one its owner adds): the CA to trust. */
  addCa: Uint8Array | null;
  /** A host certificate to store, from the caller's CA. */
  hostCert: string | null;
  /** The host's proof for the welcome message. */
  sig: string;
  /** A revocation list of the caller's CA newer than the host's, to keep. */
  revocations: { list: Revocations; text: string } | null;
}

/** What the host knows of the connection beyond its messages. */
export interface ConnectionFacts {
  /**
   * The peer speaks for the owner of the host's herd state: it reached the agent's socket, whose
   * directory only the owner (and root) may enter. Only such a peer may add a CA.
   */
  owner: boolean;
}

/** The CA of an auth's certificate: one the host trusts, or, at enrolment, the one the client sends. */
function callerCa(auth: Auth, host: HostIdentity, issuer: string, facts: ConnectionFacts): { ca: TrustedCa | null; key: Uint8Array } {
  const trusted = host.cas.find((ca) => ca.id === issuer);
  if (trusted !== undefined) return { ca: trusted, key: trusted.key };
  const trusts = host.cas.length === 0 ? 'it trusts none yet' : `it trusts ${host.cas.map((ca) => ca.id).join(', ')}`;
  if (auth.caKey === undefined) throw new HerdError('CERT_UNTRUSTED', `auth: the certificate is from CA ${issuer}, which this host does not trust (${trusts})`);
  const key = decodeKey(auth.caKey, 'auth');
  if (keyId(key) !== issuer) throw new HerdError('CERT_UNTRUSTED', 'auth: the CA key sent is not the one that issued the certificate');
  if (host.cas.length > 0) {
    // Never by the way: a host that trusts a CA adds another only when asked to, by its state's owner.
    if (auth.addCa !== true) throw new HerdError('CERT_UNTRUSTED', `auth: the certificate is from CA ${issuer}, which this host does not trust (${trusts})`);
    if (!facts.owner) throw new HerdError('PERMISSION_DENIED', 'auth: only the owner of this host\'s herd state may add a CA to it');
    if (host.cas.length >= MAX_TRUSTED_CAS) throw new HerdError('LIMIT', `auth: this host trusts ${MAX_TRUSTED_CAS} CAs already; remove one first (herd host trust --remove KEYID)`);
  }
  return { ca: null, key };
}

/** Step 2 on the host: verify the client's version, certificate and proof. */
export function hostAccept(auth: Auth, host: HostIdentity, hostNonce: string, nowSeconds: number, facts: ConnectionFacts): Accepted {
  if (!PROTOCOL_VERSIONS.includes(auth.version)) {
    throw new HerdError('VERSION_MISMATCH', `auth: the client chose protocol ${auth.version}, this helper speaks ${PROTOCOL_VERSIONS.join(',')}`);
  }
  const { ca, key } = callerCa(auth, host, parseCert(auth.cert).body.issuer, facts);
  const body = verifyCert(auth.cert, key, nowSeconds);
  // Trust on first use, or a CA the owner adds: only an admin of that CA, already authenticated by SSH, may bring it.
  if (ca === null && body.role !== 'admin') {
    const why = host.cas.length === 0 ? 'this host trusts no CA yet; the first identity to reach it' : 'a CA is added by an identity of it that';
    throw new HerdError('PERMISSION_DENIED', `auth: ${why} must be an admin, not a ${body.role}`);
  }
  // The newest list wins: one the client carries replaces the host's only when it is newer.
  let revocations = ca?.revocations ?? null;
  let newer: Accepted['revocations'] = null;
  if (auth.revocations !== undefined && auth.revocations !== revocations?.text) {
    const offered = parseRevocations(auth.revocations, key);
    if (revocations === null || offered.version > revocations.list.version) revocations = newer = { list: offered, text: auth.revocations };
  }
  const revoked = revocations === null ? null : revocationOf(revocations.list, body);
  if (revoked !== null) {
    throw new HerdError('CERT_REVOKED', `auth: certificate "${body.subject}" is revoked by CA ${keyId(key)}: ${revoked}`, { hint: 'ask an admin for a new certificate' });
  }
  if (body.role === 'host') throw new HerdError('PERMISSION_DENIED', 'auth: a host certificate cannot be used to log in');
  const proof = concat([CLIENT_PROOF, utf8(hostNonce), utf8(auth.nonce), host.hostKey.publicKey]);
  if (!verifySignature(proof, decodeKey(auth.sig, 'auth'), certPublicKey(body))) {
    throw new HerdError('CERT_UNTRUSTED', `auth: the client could not prove it holds the key of certificate "${body.subject}"`);
  }
  let hostCert: string | null = null;
  // Only when the CA is added, or for a host without one from it: a certificate it has is never replaced.
  if (auth.hostCert !== undefined && body.role === 'admin' && (ca === null || ca.hostCert === null)) {
    const hostBody = verifyCert(auth.hostCert, key, nowSeconds);
    if (hostBody.role === 'host' && hostBody.publicKey === toBase64Url(host.hostKey.publicKey)) hostCert = auth.hostCert;
  }
  const hostSig = sign(concat([HOST_PROOF, utf8(auth.nonce), utf8(hostNonce), host.hostKey.publicKey]), host.hostKey.secretKey);
  return { subject: body.subject, serial: body.serial, role: body.role, ca: keyId(key), addCa: ca === null ? key : null, hostCert, sig: toBase64Url(hostSig), revocations: newer };
}
