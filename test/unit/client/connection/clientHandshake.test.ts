import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPair, issueCert, keyId } from '../../../../src/protocol/cert.ts';
import { hostAccept, hostHello, newNonce, type ClientIdentity, type HostIdentity } from '../../../../src/protocol/handshake.ts';
import type { Welcome } from '../../../../src/protocol/messages.ts';
import { ClientHandshake } from '../../../../src/client/connection/clientHandshake.ts';
import { codeOf } from '../../helpers/codeOf.ts';

const now = 1_800_000_000;
const ca = generateKeyPair();
const userKey = generateKeyPair();
const client: ClientIdentity = { cert: issueCert(ca, { subject: 'uma', role: 'user', publicKey: userKey.publicKey, now, ttlSeconds: 3600 }), secretKey: userKey.secretKey, caKey: ca.publicKey };
const hostKey = generateKeyPair();
const host: HostIdentity = {
  hostKey,
  cas: [{ key: ca.publicKey, id: keyId(ca.publicKey), hostCert: issueCert(ca, { subject: '10.0.0.1', role: 'host', publicKey: hostKey.publicKey, now, ttlSeconds: 3600 }), revocations: null }],
  legacyCa: null,
};
const OWNER = { owner: true };
const dialled = { names: ['h1', '10.0.0.1'], enrolAs: '10.0.0.1' };

function welcomeFor(sig: string): Welcome {
  return { t: 'welcome', sig, subject: 'uma', role: 'user', hostId: keyId(hostKey.publicKey), socket: '/var/lib/herd/agent-x.sock', agentVersion: 'v' };
}

test('hello → our auth; the welcome with the host\'s proof → done', () => {
  const handshake = new ClientHandshake(client, dialled);
  const hostNonce = newNonce();
  const step = handshake.receive(hostHello(host, hostNonce), now);
  assert.is(step.kind, 'auth');
  if (step.kind !== 'auth') return;
  assert.not.ok(step.enrolled, 'an enrolled host needs no enrolment');
  assert.not.ok(handshake.done);
  const accepted = hostAccept(step.auth, host, hostNonce, now, OWNER);
  assert.is(handshake.receive(welcomeFor(accepted.sig), now).kind, 'welcome');
  assert.ok(handshake.done);
});

test('a welcome without the proof, out of turn, or any other message fails the handshake', () => {
  const early = new ClientHandshake(client, dialled);
  assert.is(codeOf(() => early.receive(welcomeFor('AAAA'), now)), 'PROTOCOL', 'a welcome before the hello');
  const other = new ClientHandshake(client, dialled);
  assert.is(codeOf(() => other.receive({ t: 'jobs', jobs: [] }, now)), 'PROTOCOL');
  // A real proof, but from another handshake (other nonces): a replay.
  const first = new ClientHandshake(client, dialled);
  const firstNonce = newNonce();
  const firstStep = first.receive(hostHello(host, firstNonce), now);
  if (firstStep.kind !== 'auth') throw new Error('no auth');
  const replayed = hostAccept(firstStep.auth, host, firstNonce, now, OWNER).sig;
  const second = new ClientHandshake(client, dialled);
  second.receive(hostHello(host, newNonce()), now);
  assert.is(codeOf(() => second.receive(welcomeFor(replayed), now)), 'CERT_UNTRUSTED', 'a replayed welcome');
  assert.not.ok(second.done);
  assert.is(codeOf(() => second.receive(hostHello(host, newNonce()), now)), 'PROTOCOL', 'a second hello');
});

test.run();
