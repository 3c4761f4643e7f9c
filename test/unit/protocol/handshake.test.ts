import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPair, issueCert, parseCert, type KeyPair } from '../../../src/protocol/cert.ts';
import { chooseVersion, clientAuth, clientCheckWelcome, hostAccept, hostHello, newNonce, type ClientIdentity, type HostIdentity } from '../../../src/protocol/handshake.ts';
import type { Role } from '../../../src/protocol/messages.ts';
import { allows } from '../../../src/protocol/roles.ts';
import { codeOf } from '../helpers/codeOf.ts';

const now = 1_800_000_000;
function client(ca: KeyPair, role: Role, withCa: boolean): ClientIdentity {
  const key = generateKeyPair();
  const cert = issueCert(ca, { subject: `${role}-1`, role, publicKey: key.publicKey, now, ttlSeconds: 3600 });
  return { cert, secretKey: key.secretKey, caKey: ca.publicKey, ...(withCa ? { caSecretKey: ca.secretKey } : {}) };
}

const H1 = { names: ['h1', '10.0.0.1'], enrolAs: '10.0.0.1' };

/** An enrolled host of `ca`: it trusts the CA and has a host certificate from it for `subject`. */
function certifiedHost(ca: KeyPair, subject = '10.0.0.1'): HostIdentity {
  const hostKey = generateKeyPair();
  return { hostKey, hostCert: issueCert(ca, { subject, role: 'host', publicKey: hostKey.publicKey, now, ttlSeconds: 3600 }), caKey: ca.publicKey };
}

function handshake(c: ClientIdentity, host: HostIdentity) {
  const nh = newNonce();
  const { auth, pending } = clientAuth(hostHello(host, nh), c, newNonce(), now, H1);
  const accepted = hostAccept(auth, host, nh, now);
  clientCheckWelcome({ t: 'welcome', sig: accepted.sig, subject: accepted.subject, role: accepted.role, hostId: '', socket: '', agentVersion: '' }, pending);
  return accepted;
}

test('first contact: an admin enrols the host (CA pinned, host cert issued)', () => {
  const ca = generateKeyPair();
  const host: HostIdentity = { hostKey: generateKeyPair(), hostCert: null, caKey: null };
  const accepted = handshake(client(ca, 'admin', true), host);
  assert.is(accepted.role, 'admin');
  assert.equal(accepted.pinCa, ca.publicKey);
  assert.ok(accepted.hostCert !== null);
  host.caKey = accepted.pinCa;
  host.hostCert = accepted.hostCert;
  // Later a user of the same CA gets in, and checks the host's certificate.
  const later = handshake(client(ca, 'user', false), host);
  assert.is(later.role, 'user');
  assert.is(later.pinCa, null);
});

test('only an admin may enrol a host that trusts no CA', () => {
  const ca = generateKeyPair();
  const host: HostIdentity = { hostKey: generateKeyPair(), hostCert: null, caKey: null };
  assert.is(codeOf(() => handshake(client(ca, 'user', false), host)), 'PERMISSION_DENIED');
});

test('a host that trusts another CA is refused by the client with CERT_UNTRUSTED', () => {
  const host: HostIdentity = { hostKey: generateKeyPair(), hostCert: null, caKey: generateKeyPair().publicKey };
  assert.is(codeOf(() => handshake(client(generateKeyPair(), 'admin', true), host)), 'CERT_UNTRUSTED');
});

test('a client cert not from the host CA is refused by the host', () => {
  const ca = generateKeyPair();
  const host = certifiedHost(ca);
  const nh = newNonce();
  const foreign = client(generateKeyPair(), 'admin', false);
  // The client lies about its CA to get past its own check.
  const { auth } = clientAuth(hostHello(host, nh), { ...foreign, caKey: ca.publicKey }, newNonce(), now, H1);
  assert.is(codeOf(() => hostAccept(auth, host, nh, now)), 'CERT_UNTRUSTED');
});

test('a proof signed for other nonces (replay) is refused', () => {
  const ca = generateKeyPair();
  const host = certifiedHost(ca);
  const c = client(ca, 'user', false);
  const { auth } = clientAuth(hostHello(host, newNonce()), c, newNonce(), now, H1);
  assert.is(codeOf(() => hostAccept(auth, host, newNonce(), now)), 'CERT_UNTRUSTED');
});

test('a welcome replayed from another handshake is refused by the client', () => {
  const ca = generateKeyPair();
  const host = certifiedHost(ca);
  const c = client(ca, 'user', false);
  const nh = newNonce();
  const { auth, pending } = clientAuth(hostHello(host, nh), c, newNonce(), now, H1);
  const accepted = hostAccept(auth, host, nh, now);
  // A genuine host signature, but over another handshake's nonces.
  const otherNonce = newNonce();
  const other = hostAccept(clientAuth(hostHello(host, otherNonce), c, newNonce(), now, H1).auth, host, otherNonce, now);
  const welcome = { t: 'welcome' as const, sig: other.sig, subject: '', role: 'user' as const, hostId: '', socket: '', agentVersion: '' };
  assert.is(codeOf(() => clientCheckWelcome(welcome, pending)), 'CERT_UNTRUSTED');
  assert.is(codeOf(() => clientCheckWelcome({ ...welcome, sig: accepted.sig }, pending)), 'none');
});

test('a host certificate for another key is refused by the client', () => {
  const ca = generateKeyPair();
  const other = generateKeyPair();
  const hostCert = issueCert(ca, { subject: 'x', role: 'host', publicKey: other.publicKey, now, ttlSeconds: 3600 });
  const host: HostIdentity = { hostKey: generateKeyPair(), hostCert, caKey: ca.publicKey };
  assert.is(codeOf(() => handshake(client(ca, 'user', false), host)), 'CERT_UNTRUSTED');
});

test('enrolment: the admin signs the host key under the address it dialled, and says it did', () => {
  const ca = generateKeyPair();
  const host: HostIdentity = { hostKey: generateKeyPair(), hostCert: null, caKey: null };
  const { auth, enrolled } = clientAuth(hostHello(host, newNonce()), client(ca, 'admin', true), newNonce(), now, H1);
  assert.ok(enrolled);
  assert.is(parseCert(auth.hostCert!).body.subject, '10.0.0.1');
  const known = certifiedHost(ca);
  assert.not.ok(clientAuth(hostHello(known, newNonce()), client(ca, 'admin', true), newNonce(), now, H1).enrolled, 'a certified host is not signed again');
});

test('a host that claims our CA but shows no certificate gets nothing, from a user or an admin (no re-enrolment by relay)', () => {
  const ca = generateKeyPair();
  const host: HostIdentity = { hostKey: generateKeyPair(), hostCert: null, caKey: ca.publicKey };
  assert.is(codeOf(() => clientAuth(hostHello(host, newNonce()), client(ca, 'user', false), newNonce(), now, H1)), 'CERT_UNTRUSTED');
  assert.is(codeOf(() => clientAuth(hostHello(host, newNonce()), client(ca, 'admin', true), newNonce(), now, H1)), 'CERT_UNTRUSTED');
});

test('a host never replaces the certificate it has with one an admin sends', () => {
  const ca = generateKeyPair();
  const host = certifiedHost(ca);
  const nh = newNonce();
  const { auth } = clientAuth(hostHello(host, nh), client(ca, 'admin', true), newNonce(), now, H1);
  const forged = issueCert(ca, { subject: '10.66.6.6', role: 'host', publicKey: host.hostKey.publicKey, now, ttlSeconds: 3600 });
  assert.is(hostAccept({ ...auth, hostCert: forged }, host, nh, now).hostCert, null);
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
  assert.is(codeOf(() => hostAccept({ ...auth, version: 9 }, host, nh, now)), 'VERSION_MISMATCH');
});

test('roles: viewer may not run; user and admin may', () => {
  assert.not.ok(allows('viewer', 'run'));
  assert.ok(allows('user', 'run'));
  assert.ok(allows('admin', 'run'));
  assert.ok(allows('viewer', 'status'));
});

test.run();
