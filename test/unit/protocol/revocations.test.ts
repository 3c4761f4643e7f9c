import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { toHex } from '../../../src/protocol/bytes.ts';
import { generateKeyPair, issueCert, keyId, parseCert, randomBytes } from '../../../src/protocol/cert.ts';
import { clientAuth, hostAccept, hostHello, newNonce, type HostIdentity, type TrustedCa } from '../../../src/protocol/handshake.ts';
import { issueTimeUnder, lockBefore, MAX_REVOKED_SERIALS, parseRevocations, revocationOf, signRevocations } from '../../../src/protocol/revocations.ts';
import { codeOf } from '../helpers/codeOf.ts';

const now = 1_800_000_000;
const ca = generateKeyPair();
const serial = (): string => toHex(randomBytes(8));

test('a list round-trips: serials as 8 bytes each, subject locks, version and issuer', () => {
  const serials = [serial(), serial(), serial()];
  const text = signRevocations({ version: 3, serials, subjects: [{ subject: 'alice', before: now }] }, ca, now);
  const list = parseRevocations(text, ca.publicKey);
  assert.equal([list.version, list.issuedAt, [...list.serials].sort(), list.subjects], [3, now, [...serials].sort(), [{ subject: 'alice', before: now }]]);
  assert.is(revocationOf(list, { serial: serials[1]!, subject: 'bob', notBefore: 0 }), `serial ${serials[1]} is revoked`);
  assert.match(revocationOf(list, { serial: serial(), subject: 'alice', notBefore: now - 61 }) ?? '', 'certificates of alice issued before');
  assert.is(revocationOf(list, { serial: serial(), subject: 'alice', notBefore: now - 60 }), null, 'issued at the lock (notBefore has a minute of slack): good');
});

test('garbage, tampering and another CA\'s list are refused', () => {
  const text = signRevocations({ version: 1, serials: [serial()], subjects: [] }, ca, now);
  const [prefix, header, body, sig] = text.split('.');
  assert.is(codeOf(() => parseRevocations('herdrl1.garbage', ca.publicKey)), 'CERT_INVALID');
  assert.is(codeOf(() => parseRevocations('nonsense', ca.publicKey)), 'CERT_INVALID');
  const other = signRevocations({ version: 1, serials: [], subjects: [] }, generateKeyPair(), now);
  assert.is(codeOf(() => parseRevocations(other, ca.publicKey)), 'CERT_UNTRUSTED', 'signed by another CA');
  const fewer = signRevocations({ version: 1, serials: [], subjects: [] }, ca, now).split('.')[2];
  assert.is(codeOf(() => parseRevocations([prefix, header, fewer, sig].join('.'), ca.publicKey)), 'CERT_UNTRUSTED', 'serials swapped under the signature');
  const bumped = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(header!, 'base64url').toString()), version: 99 })).toString('base64url');
  assert.is(codeOf(() => parseRevocations([prefix, bumped, body, sig].join('.'), ca.publicKey)), 'CERT_UNTRUSTED', 'a version raised under the signature');
  assert.is(codeOf(() => signRevocations({ version: 1, serials: ['xyz'], subjects: [] }, ca, now)), 'INVALID_SPEC');
});

test('10,000 serials fit in one protocol message', () => {
  const serials = Array.from({ length: 10_000 }, serial);
  const text = signRevocations({ version: 1, serials, subjects: [] }, ca, now);
  assert.ok(text.length < 120_000, `${text.length} bytes`);
  assert.is(parseRevocations(text, ca.publicKey).serials.size, 10_000);
  assert.is(codeOf(() => signRevocations({ version: 1, serials: Array.from({ length: MAX_REVOKED_SERIALS + 1 }, serial), subjects: [] }, ca, now)), 'LIMIT');
});

test('the handshake: a revoked certificate is refused; the host keeps a newer list and never an older one', () => {
  const key = generateKeyPair();
  const cert = issueCert(ca, { subject: 'rita', role: 'user', publicKey: key.publicKey, now, ttlSeconds: 3600 });
  const ritaSerial = parseCert(cert).body.serial;
  const hostKey = generateKeyPair();
  const trusted: TrustedCa = { key: ca.publicKey, id: keyId(ca.publicKey), hostCert: issueCert(ca, { subject: 'h1', role: 'host', publicKey: hostKey.publicKey, now, ttlSeconds: 3600 }), revocations: null };
  const host: HostIdentity = { hostKey, cas: [trusted], legacyCa: null };
  const connect = (revocations?: string, hostSaysNone = false, sent?: string) => {
    const nonce = newNonce();
    const hello = hostHello(host, nonce);
    if (hostSaysNone) hello.trust[0]!.revocations = 0;
    const { auth } = clientAuth(hello, { cert, secretKey: key.secretKey, caKey: ca.publicKey, ...(revocations === undefined ? {} : { revocations }) }, newNonce(), now, { names: ['h1'], enrolAs: 'h1' });
    return hostAccept(sent === undefined ? auth : { ...auth, revocations: sent }, host, nonce, now, { owner: true });
  };
  const v1 = signRevocations({ version: 1, serials: [serial()], subjects: [] }, ca, now);
  const v2 = signRevocations({ version: 2, serials: [ritaSerial], subjects: [] }, ca, now);
  const first = connect(v1);
  assert.is(first.revocations?.list.version, 1, 'a host without a list keeps the first');
  trusted.revocations = first.revocations;
  assert.is(codeOf(() => connect(v2)), 'CERT_REVOKED', 'the newer list revokes rita at once');
  trusted.revocations = { list: parseRevocations(v2, ca.publicKey), text: v2 };
  assert.is(codeOf(() => connect(v1)), 'CERT_REVOKED', 'an older list does not bring rita back');
  assert.is(codeOf(() => connect()), 'CERT_REVOKED', 'nor does carrying none');
  assert.is(codeOf(() => connect(v1, true)), 'CERT_REVOKED', 'an older list sent anyway (the hello misreported the version held) is not taken');
  assert.is(codeOf(() => connect(undefined, false, 'herdrl1.x.y.z')), 'CERT_INVALID', 'a garbage list fails the handshake');
  const other = generateKeyPair();
  const foreign = signRevocations({ version: 9, serials: [], subjects: [] }, other, now);
  assert.is(codeOf(() => connect(undefined, false, foreign)), 'CERT_UNTRUSTED', 'another CA\'s list fails it too');
  const { auth } = clientAuth(hostHello(host, newNonce()), { cert, secretKey: key.secretKey, caKey: ca.publicKey, revocations: v2 }, newNonce(), now, { names: ['h1'], enrolAs: 'h1' });
  assert.is(auth.revocations, undefined, 'a list the host has already does not cross the wire');
});


test('a lock made in the second a certificate was issued covers it; one issued after the lock, in that second, is not born revoked', () => {
  const cert = (at: number) => ({ serial: serial(), subject: 'rex', notBefore: at - 60 });
  const early = cert(now); // issued at now + 0.2 s: its issue time is floored to now
  const lock = { subject: 'rex', before: lockBefore(now * 1000 + 700, false) }; // revoke rex at now + 0.7 s
  const list = parseRevocations(signRevocations({ version: 1, serials: [], subjects: [lock] }, ca, now), ca.publicKey);
  assert.ok(revocationOf(list, early) !== null, 'the certificate made 0.5 s before the lock is revoked');
  const issued = issueTimeUnder(lock, now); // issue rex again at now + 0.9 s
  assert.is(issued, now + 1);
  assert.is(revocationOf(list, cert(issued!)), null, 'the one issued after the lock is good');
  assert.is(issueTimeUnder(lock, now + 5), now + 5, 'later issues keep their own time');
  assert.is(issueTimeUnder({ subject: 'rex', before: now + 3600 }, now), null, 'under a lock reaching an hour ahead, nothing can be issued');
  assert.is(lockBefore(now * 1000, true), now, 'a stated whole second stays');
  assert.is(lockBefore(now * 1000 + 1, true), now + 1, 'a stated time with a fraction rounds up');
});

test.run();
