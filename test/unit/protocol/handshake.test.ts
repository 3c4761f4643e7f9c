import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPair, issueCert, parseCert, type KeyPair } from '../../../src/protocol/cert.ts';
import { chooseVersion, clientAuth, clientCheckWelcome, hostAccept, hostHello, newNonce, type ClientIdentity, type ConnectionFacts, type DialledHost, type HostIdentity } from '../../../src/protocol/handshake.ts';
import { keyId } from '../../../src/protocol/cert.ts';
import { MAX_TRUSTED_CAS } from '../../../src/protocol/limits.ts';
import type { Role } from '../../../src/protocol/messages.ts';
import { allows } from '../../../src/protocol/roles.ts';
import { codeOf } from '../helpers/codeOf.ts';

const now = 1_800_000_000;
function client(ca: KeyPair, role: Role, withCa: boolean): ClientIdentity {
  const key = generateKeyPair();
  const cert = issueCert(ca, { subject: `${role}-1`, role, publicKey: key.publicKey, now, ttlSeconds: 3600 });
  return { cert, secretKey: key.secretKey, caKey: ca.publicKey, ...(withCa ? { caSecretKey: ca.secretKey } : {}) };
}

const H1: DialledHost = { names: ['h1', '10.0.0.1'], enrolAs: '10.0.0.1' };
const OWNER: ConnectionFacts = { owner: true };

const emptyHost = (): HostIdentity => ({ hostKey: generateKeyPair(), cas: [], legacyCa: null });

/** `host` trusts `ca`, with `hostCert` from it (or none). */
function trust(host: HostIdentity, ca: KeyPair, hostCert: string | null): HostIdentity {
  host.cas.push({ key: ca.publicKey, id: keyId(ca.publicKey), hostCert, revocations: null });
  return host;
}

/** An enrolled host of `ca`: it trusts the CA and has a host certificate from it for `subject`. */
function certifiedHost(ca: KeyPair, subject = '10.0.0.1'): HostIdentity {
  const host = emptyHost();
  return trust(host, ca, issueCert(ca, { subject, role: 'host', publicKey: host.hostKey.publicKey, now, ttlSeconds: 3600 }));
}

/** What the agent does with an accepted handshake's changes to its trust. */
function apply(host: HostIdentity, accepted: ReturnType<typeof hostAccept>): void {
  if (accepted.addCa !== null) host.cas.push({ key: accepted.addCa, id: keyId(accepted.addCa), hostCert: null, revocations: null });
  const ca = host.cas.find((c) => c.id === accepted.ca)!;
  if (accepted.hostCert !== null) ca.hostCert = accepted.hostCert;
}

function handshake(c: ClientIdentity, host: HostIdentity, dialled: DialledHost = H1, facts: ConnectionFacts = OWNER) {
  const nh = newNonce();
  const { auth, pending } = clientAuth(hostHello(host, nh), c, newNonce(), now, dialled);
  const accepted = hostAccept(auth, host, nh, now, facts);
  clientCheckWelcome({ t: 'welcome', sig: accepted.sig, subject: accepted.subject, role: accepted.role, hostId: '', socket: '', agentVersion: '' }, pending);
  return accepted;
}

test('first contact: an admin enrols the host (CA pinned, host cert issued)', () => {
  const ca = generateKeyPair();
  const host = emptyHost();
  const accepted = handshake(client(ca, 'admin', true), host);
  assert.is(accepted.role, 'admin');
  assert.equal(accepted.addCa, ca.publicKey);
  assert.ok(accepted.hostCert !== null);
  apply(host, accepted);
  // Later a user of the same CA gets in, and checks the host's certificate.
  const later = handshake(client(ca, 'user', false), host);
  assert.is(later.role, 'user');
  assert.is(later.ca, keyId(ca.publicKey));
  assert.is(later.addCa, null);
});

test('only an admin may enrol a host that trusts no CA', () => {
  const ca = generateKeyPair();
  assert.is(codeOf(() => handshake(client(ca, 'user', false), emptyHost())), 'PERMISSION_DENIED');
});

test('a host that trusts another CA is refused by the client with CERT_UNTRUSTED', () => {
  const host = trust(emptyHost(), generateKeyPair(), null);
  assert.is(codeOf(() => handshake(client(generateKeyPair(), 'admin', true), host)), 'CERT_UNTRUSTED');
});

test('a client cert not from the host CA is refused by the host', () => {
  const ca = generateKeyPair();
  const host = certifiedHost(ca);
  const nh = newNonce();
  const foreign = client(generateKeyPair(), 'admin', false);
  // The client lies about its CA to get past its own check.
  const { auth } = clientAuth(hostHello(host, nh), { ...foreign, caKey: ca.publicKey }, newNonce(), now, H1);
  assert.is(codeOf(() => hostAccept(auth, host, nh, now, OWNER)), 'CERT_UNTRUSTED');
});

test('a proof signed for other nonces (replay) is refused', () => {
  const ca = generateKeyPair();
  const host = certifiedHost(ca);
  const c = client(ca, 'user', false);
  const { auth } = clientAuth(hostHello(host, newNonce()), c, newNonce(), now, H1);
  assert.is(codeOf(() => hostAccept(auth, host, newNonce(), now, OWNER)), 'CERT_UNTRUSTED');
});

test('a welcome replayed from another handshake is refused by the client', () => {
  const ca = generateKeyPair();
  const host = certifiedHost(ca);
  const c = client(ca, 'user', false);
  const nh = newNonce();
  const { auth, pending } = clientAuth(hostHello(host, nh), c, newNonce(), now, H1);
  const accepted = hostAccept(auth, host, nh, now, OWNER);
  // A genuine host signature, but over another handshake's nonces.
  const otherNonce = newNonce();
  const other = hostAccept(clientAuth(hostHello(host, otherNonce), c, newNonce(), now, H1).auth, host, otherNonce, now, OWNER);
  const welcome = { t: 'welcome' as const, sig: other.sig, subject: '', role: 'user' as const, hostId: '', socket: '', agentVersion: '' };
  assert.is(codeOf(() => clientCheckWelcome(welcome, pending)), 'CERT_UNTRUSTED');
  assert.is(codeOf(() => clientCheckWelcome({ ...welcome, sig: accepted.sig }, pending)), 'none');
});

test('a host certificate for another key is refused by the client', () => {
  const ca = generateKeyPair();
  const other = generateKeyPair();
  const hostCert = issueCert(ca, { subject: 'x', role: 'host', publicKey: other.publicKey, now, ttlSeconds: 3600 });
  assert.is(codeOf(() => handshake(client(ca, 'user', false), trust(emptyHost(), ca, hostCert))), 'CERT_UNTRUSTED');
});

test('enrolment: the admin signs the host key under the address it dialled, and says it did', () => {
  const ca = generateKeyPair();
  const { auth, enrolled } = clientAuth(hostHello(emptyHost(), newNonce()), client(ca, 'admin', true), newNonce(), now, H1);
  assert.ok(enrolled);
  assert.is(parseCert(auth.hostCert!).body.subject, '10.0.0.1');
  const known = certifiedHost(ca);
  assert.not.ok(clientAuth(hostHello(known, newNonce()), client(ca, 'admin', true), newNonce(), now, H1).enrolled, 'a certified host is not signed again');
});

test('a host that claims our CA but shows no certificate gets nothing, from a user or an admin (no re-enrolment by relay)', () => {
  const ca = generateKeyPair();
  const host = trust(emptyHost(), ca, null);
  assert.is(codeOf(() => clientAuth(hostHello(host, newNonce()), client(ca, 'user', false), newNonce(), now, H1)), 'CERT_UNTRUSTED');
  assert.is(codeOf(() => clientAuth(hostHello(host, newNonce()), client(ca, 'admin', true), newNonce(), now, H1)), 'CERT_UNTRUSTED');
});

test('a host never replaces the certificate it has with one an admin sends', () => {
  const ca = generateKeyPair();
  const host = certifiedHost(ca);
  const nh = newNonce();
  const { auth } = clientAuth(hostHello(host, nh), client(ca, 'admin', true), newNonce(), now, H1);
  const forged = issueCert(ca, { subject: '10.66.6.6', role: 'host', publicKey: host.hostKey.publicKey, now, ttlSeconds: 3600 });
  assert.is(hostAccept({ ...auth, hostCert: forged }, host, nh, now, OWNER).hostCert, null);
});

test('a host of the fleet answering for another: its certificate names another host, and is refused', () => {
  const ca = generateKeyPair();
  const other = certifiedHost(ca, '10.0.0.2');
  assert.is(codeOf(() => handshake(client(ca, 'user', false), other)), 'CERT_UNTRUSTED');
  assert.is(codeOf(() => handshake(client(ca, 'admin', true), other)), 'CERT_UNTRUSTED', 'an admin is not fooled either');
  assert.is(codeOf(() => handshake(client(ca, 'user', false), certifiedHost(ca, 'h1'))), 'none', 'a name it was dialled by will do');
});

test('version negotiation picks a common version or fails clearly', () => {
  assert.is(chooseVersion([1, 7]), 1);
  assert.is(codeOf(() => chooseVersion([9])), 'VERSION_MISMATCH');
  const ca = generateKeyPair();
  const host = certifiedHost(ca);
  const nh = newNonce();
  const { auth } = clientAuth(hostHello(host, nh), client(ca, 'user', false), newNonce(), now, H1);
  assert.is(codeOf(() => hostAccept({ ...auth, version: 9 }, host, nh, now, OWNER)), 'VERSION_MISMATCH');
});

test('a second CA: added only when asked (herd host trust), by an admin of it, over the owner\'s connection; both CAs work after', () => {
  const [a, b] = [generateKeyPair(), generateKeyPair()];
  const host = certifiedHost(a);
  const adminB = client(b, 'admin', true);
  assert.match(String((() => { try { handshake(adminB, host); } catch (err) { return (err as Error & { hint?: string }).hint; } })()), 'herd host trust', 'the refusal names the way out');
  assert.is(codeOf(() => handshake(client(b, 'user', false), host, { ...H1, addCa: true })), 'PERMISSION_DENIED', 'a user config cannot add its CA');
  assert.is(codeOf(() => handshake(adminB, host, { ...H1, addCa: true }, { owner: false })), 'PERMISSION_DENIED', 'not the state\'s owner');
  assert.equal(host.cas.map((c) => c.id), [keyId(a.publicKey)], 'nothing added by the refusals');
  const added = handshake(adminB, host, { ...H1, addCa: true });
  assert.equal(added.addCa, b.publicKey);
  assert.is(parseCert(added.hostCert!).body.issuer, keyId(b.publicKey), 'a host certificate from the new CA');
  apply(host, added);
  assert.is(handshake(client(a, 'user', false), host).ca, keyId(a.publicKey), 'the first CA\'s users still get in');
  assert.is(handshake(client(b, 'user', false), host).ca, keyId(b.publicKey), 'and the new CA\'s');
  assert.is(handshake(adminB, host, { ...H1, addCa: true }).addCa, null, 'asking again adds nothing');
});

test('the host refuses a CA it was not asked to add, and one brought by a user certificate', () => {
  const [a, b] = [generateKeyPair(), generateKeyPair()];
  const host = certifiedHost(a);
  const nh = newNonce();
  const { auth } = clientAuth(hostHello(host, nh), client(b, 'admin', true), newNonce(), now, { ...H1, addCa: true });
  const { addCa: _, ...unasked } = auth;
  assert.is(codeOf(() => hostAccept(unasked, host, nh, now, OWNER)), 'CERT_UNTRUSTED');
  // A client that skips its own check, bringing its CA with a user certificate: the host decides.
  const user = client(b, 'user', false);
  assert.is(codeOf(() => hostAccept({ ...auth, cert: user.cert }, host, nh, now, OWNER)), 'PERMISSION_DENIED');
  assert.equal(host.cas.length, 1);
});

test('at most MAX_TRUSTED_CAS CAs', () => {
  const host = emptyHost();
  for (let i = 0; i < MAX_TRUSTED_CAS; i++) trust(host, generateKeyPair(), null);
  const c = client(generateKeyPair(), 'admin', true);
  assert.is(codeOf(() => handshake(c, host, { ...H1, addCa: true })), 'LIMIT');
});

test('through a rotation the host keeps its name: the new CA signs the subject the old one certified', () => {
  const [old, fresh] = [generateKeyPair(), generateKeyPair()];
  const host = certifiedHost(old, 'h1');
  const rotating = { ...client(fresh, 'admin', true), previousCaKeys: [old.publicKey] };
  const added = handshake(rotating, host, { ...H1, addCa: true });
  assert.is(parseCert(added.hostCert!).body.subject, 'h1', 'not the address (enrolAs)');
  const stranger = handshake(client(generateKeyPair(), 'admin', true), certifiedHost(old, 'h1'), { ...H1, addCa: true });
  assert.is(parseCert(stranger.hostCert!).body.subject, '10.0.0.1', 'without the old CA the address dialled');
});

test('roles: viewer may not run; user and admin may', () => {
  assert.not.ok(allows('viewer', 'run'));
  assert.ok(allows('user', 'run'));
  assert.ok(allows('admin', 'run'));
  assert.ok(allows('viewer', 'status'));
});

test.run();
