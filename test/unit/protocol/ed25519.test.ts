import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPair, issueCert, verifyCert } from '../../../src/protocol/cert.ts';
import { ed25519, resetEd25519, tweetnaclEd25519, useEd25519 } from '../../../src/protocol/ed25519.ts';
import { installNativeEd25519 } from '../../../src/shared/nativeEd25519.ts';

test('tweetnacl passes the RFC 8032 vector; a wrong implementation is refused', () => {
  assert.ok(useEd25519(tweetnaclEd25519));
  assert.not.ok(useEd25519({ sign: () => new Uint8Array(64), verify: () => true }));
  assert.not.ok(useEd25519({ sign: tweetnaclEd25519.sign, verify: () => true }), 'a verifier that accepts anything');
  assert.is(ed25519(), tweetnaclEd25519);
});

test('native node:crypto Ed25519 is installed and interoperates with tweetnacl', () => {
  const ca = generateKeyPair();
  const holder = generateKeyPair();
  const byNacl = issueCert(ca, { subject: 'a', role: 'user', publicKey: holder.publicKey, now: 1000, ttlSeconds: 100 });
  assert.ok(installNativeEd25519());
  assert.is.not(ed25519(), tweetnaclEd25519);
  assert.is(verifyCert(byNacl, ca.publicKey, 1000).subject, 'a');
  const byNative = issueCert(ca, { subject: 'b', role: 'user', publicKey: holder.publicKey, now: 1000, ttlSeconds: 100, serial: '01' });
  resetEd25519();
  assert.is(verifyCert(byNative, ca.publicKey, 1000).subject, 'b');
  assert.throws(() => verifyCert(byNative, generateKeyPair().publicKey, 1000));
});

test.run();
