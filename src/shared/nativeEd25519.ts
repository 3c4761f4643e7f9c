import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { toBase64Url } from '../protocol/bytes.ts';
import { useEd25519, type Ed25519 } from '../protocol/ed25519.ts';

// Key objects are cached: a connection signs and verifies with the same few keys.
const privateKeys = new Map<string, KeyObject>();
const publicKeys = new Map<string, KeyObject>();

function privateKey(secretKey: Uint8Array): KeyObject {
  const id = toBase64Url(secretKey);
  let key = privateKeys.get(id);
  if (key === undefined) {
    // A tweetnacl secret key is the 32-byte seed followed by the public key.
    key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: toBase64Url(secretKey.subarray(0, 32)), x: toBase64Url(secretKey.subarray(32)) }, format: 'jwk' });
    privateKeys.set(id, key);
  }
  return key;
}

function publicKey(raw: Uint8Array): KeyObject {
  const id = toBase64Url(raw);
  let key = publicKeys.get(id);
  if (key === undefined) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: id }, format: 'jwk' });
    publicKeys.set(id, key);
  }
  return key;
}

const native: Ed25519 = {
  sign: (message, secretKey) => new Uint8Array(sign(null, message, privateKey(secretKey))),
  verify: (message, signature, raw) => verify(null, message, publicKey(raw), signature),
};

/** Uses node:crypto's Ed25519 when this runtime has it and it agrees with tweetnacl. */
export function installNativeEd25519(): boolean {
  return useEd25519(native);
}
