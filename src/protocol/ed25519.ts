import nacl from 'tweetnacl';

/**
 * The Ed25519 operations the protocol needs. tweetnacl is the portable default; a side
 * that has a native implementation (node:crypto on node, bun and deno) installs it at
 * start-up with `useEd25519`, since tweetnacl's verify costs ~9 ms against ~0.1 ms.
 * Both produce the same bytes (Ed25519 is deterministic), so peers need not agree on it.
 */
export interface Ed25519 {
  sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array;
  verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean;
}

export const tweetnaclEd25519: Ed25519 = {
  sign: (message, secretKey) => nacl.sign.detached(message, secretKey),
  verify: (message, signature, publicKey) => nacl.sign.detached.verify(message, signature, publicKey),
};

let current: Ed25519 = tweetnaclEd25519;

export function ed25519(): Ed25519 {
  return current;
}

function hex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g)!.map((byte) => parseInt(byte, 16)));
}

// RFC 8032, section 7.1, TEST 1: an empty message.
const RFC8032_SECRET = hex(
  '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60' + 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
);
const RFC8032_SIGNATURE = hex(
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
);

/** Installs another implementation if it passes the RFC 8032 vector; returns whether it did. */
export function useEd25519(candidate: Ed25519): boolean {
  try {
    const message = new Uint8Array(0);
    const produced = candidate.sign(message, RFC8032_SECRET);
    if (produced.length !== 64 || !produced.every((b, i) => b === RFC8032_SIGNATURE[i])) return false;
    const publicKey = RFC8032_SECRET.subarray(32);
    if (!candidate.verify(message, RFC8032_SIGNATURE, publicKey)) return false;
    const tampered = RFC8032_SIGNATURE.slice();
    tampered[0]! ^= 1;
    if (candidate.verify(message, tampered, publicKey)) return false;
  } catch {
    return false;
  }
  current = candidate;
  return true;
}

/** Back to tweetnacl (tests). */
export function resetEd25519(): void {
  current = tweetnaclEd25519;
}
