import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fromBase64Url, toBase64Url } from '../../../src/protocol/bytes.ts';
import { generateKeyPair, issueCert, keyId, parseCert, verifyCert } from '../../../src/protocol/cert.ts';
import { codeOf } from '../helpers/codeOf.ts';

const ca = generateKeyPair();
const holder = generateKeyPair();
const now = 1_800_000_000;
const cert = issueCert(ca, { subject: 'alice', role: 'user', publicKey: holder.publicKey, now, ttlSeconds: 3600 });

test('a certificate carries the documented fields and verifies against its CA', () => {
  assert.match(cert, /^herd1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  const body = verifyCert(cert, ca.publicKey, now);
  assert.is(body.v, 1);
  assert.is(body.subject, 'alice');
  assert.is(body.role, 'user');
  assert.is(body.issuer, keyId(ca.publicKey));
  assert.equal(fromBase64Url(body.publicKey), holder.publicKey);
  assert.is(body.notAfter - now, 3600);
  assert.is(typeof body.serial, 'string');
});

test('expired and not-yet-valid certificates are refused with their own codes', () => {
  assert.is(codeOf(() => verifyCert(cert, ca.publicKey, now + 3601)), 'CERT_EXPIRED');
  assert.is(codeOf(() => verifyCert(cert, ca.publicKey, now - 3600)), 'CERT_NOT_YET_VALID');
});

test('a certificate from another CA is untrusted', () => {
  assert.is(codeOf(() => verifyCert(cert, generateKeyPair().publicKey, now)), 'CERT_UNTRUSTED');
});

test('a tampered body is untrusted: the role cannot be raised', () => {
  const [prefix, , sig] = cert.split('.');
  const body = { ...parseCert(cert).body, role: 'admin' };
  const forged = `${prefix}.${toBase64Url(new TextEncoder().encode(JSON.stringify(body)))}.${sig}`;
  assert.is(codeOf(() => verifyCert(forged, ca.publicKey, now)), 'CERT_UNTRUSTED');
});

test('garbage is CERT_INVALID', () => {
  for (const text of ['', 'herd1', 'herd1.a.b', 'herd2.x.y', 'herd1.!!!.x']) assert.is(codeOf(() => parseCert(text)), 'CERT_INVALID', text);
});

test.run();
