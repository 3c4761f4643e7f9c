import nacl from 'tweetnacl';
import { fromBase64Url, fromUtf8, toBase64Url, toHex, utf8 } from './bytes.ts';
import { ed25519 } from './ed25519.ts';
import { HerdError } from './errors.ts';
import { ROLES, type Role } from './roles.ts';

/*
 * Certificate format, version 1 (docs/identity.md):
 *
 *   herd1.<base64url(body)>.<base64url(signature)>
 *
 * body is UTF-8 JSON {v, serial, subject, role, publicKey, notBefore, notAfter, issuer};
 * the signature is the CA's Ed25519 detached signature over the body bytes exactly as
 * they appear, so no canonical JSON form is needed. Times are Unix seconds.
 */
export const CERT_PREFIX = 'herd1';
/** notBefore is this long before a certificate was issued (clock slack). */
export const NOT_BEFORE_SLACK_SECONDS = 60;

/** When a certificate was issued, from its notBefore. */
export function issuedAt(body: Pick<CertBody, 'notBefore'>): number {
  return body.notBefore + NOT_BEFORE_SLACK_SECONDS;
}
export type CertRole = Role | 'host';
const CERT_ROLES: readonly string[] = [...ROLES, 'host'];

export interface CertBody {
  v: 1;
  serial: string;
  subject: string;
  role: CertRole;
  /** base64url of the 32-byte Ed25519 public key */
  publicKey: string;
  notBefore: number;
  notAfter: number;
  /** key id of the issuing CA */
  issuer: string;
}

export interface KeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export function generateKeyPair(): KeyPair {
  return nacl.sign.keyPair();
}

export function keyPairFromSecret(secretKey: Uint8Array): KeyPair {
  if (secretKey.length !== nacl.sign.secretKeyLength) throw new HerdError('CERT_INVALID', 'an Ed25519 secret key must be 64 bytes');
  return nacl.sign.keyPair.fromSecretKey(secretKey);
}

/** A short, stable name for a public key: the first 8 bytes of its SHA-512, in hex. */
export function keyId(publicKey: Uint8Array): string {
  return toHex(nacl.hash(publicKey).subarray(0, 8));
}

export function randomBytes(count: number): Uint8Array {
  return nacl.randomBytes(count);
}

export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return ed25519().sign(message, secretKey);
}

export function verifySignature(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== nacl.sign.signatureLength || publicKey.length !== nacl.sign.publicKeyLength) return false;
  return ed25519().verify(message, signature, publicKey);
}

export interface IssueOptions {
  subject: string;
  role: CertRole;
  publicKey: Uint8Array;
  /** Unix seconds */
  now: number;
  ttlSeconds: number;
  serial?: string;
}

export function issueCert(ca: KeyPair, options: IssueOptions): string {
  const body: CertBody = {
    v: 1,
    serial: options.serial ?? toHex(randomBytes(8)),
    subject: options.subject,
    role: options.role,
    publicKey: toBase64Url(options.publicKey),
    // A minute of slack so a host whose clock is slightly behind still accepts a fresh cert.
    notBefore: options.now - NOT_BEFORE_SLACK_SECONDS,
    notAfter: options.now + options.ttlSeconds,
    issuer: keyId(ca.publicKey),
  };
  const bytes = utf8(JSON.stringify(body));
  return `${CERT_PREFIX}.${toBase64Url(bytes)}.${toBase64Url(sign(bytes, ca.secretKey))}`;
}

export interface ParsedCert {
  body: CertBody;
  signed: Uint8Array;
  signature: Uint8Array;
}

function invalid(what: string): never {
  throw new HerdError('CERT_INVALID', `malformed certificate: ${what}`);
}

export function parseCert(text: string): ParsedCert {
  const parts = text.trim().split('.');
  if (parts.length !== 3 || parts[0] !== CERT_PREFIX) invalid(`expected ${CERT_PREFIX}.<body>.<signature>`);
  let signed: Uint8Array;
  let signature: Uint8Array;
  let body: unknown;
  try {
    signed = fromBase64Url(parts[1]!);
    signature = fromBase64Url(parts[2]!);
    body = JSON.parse(fromUtf8(signed));
  } catch {
    invalid('not base64url JSON');
  }
  if (typeof body !== 'object' || body === null) invalid('body is not an object');
  const b = body as Record<string, unknown>;
  if (b.v !== 1) invalid(`unsupported version ${JSON.stringify(b.v)}`);
  for (const key of ['serial', 'subject', 'publicKey', 'issuer']) if (typeof b[key] !== 'string') invalid(`${key} missing`);
  for (const key of ['notBefore', 'notAfter']) if (!Number.isSafeInteger(b[key])) invalid(`${key} missing`);
  if (!CERT_ROLES.includes(b.role as string)) invalid(`unknown role ${JSON.stringify(b.role)}`);
  return { body: b as unknown as CertBody, signed, signature };
}

export function certPublicKey(body: CertBody): Uint8Array {
  const key = fromBase64Url(body.publicKey);
  if (key.length !== nacl.sign.publicKeyLength) invalid('public key is not 32 bytes');
  return key;
}

/** Checks issuer, signature and validity window; returns the body of a good certificate. */
export function verifyCert(text: string, caPublicKey: Uint8Array, nowSeconds: number): CertBody {
  const { body, signed, signature } = parseCert(text);
  const caId = keyId(caPublicKey);
  if (body.issuer !== caId) {
    throw new HerdError('CERT_UNTRUSTED', `certificate "${body.subject}" was issued by CA ${body.issuer}, not by the trusted CA ${caId}`);
  }
  if (!verifySignature(signed, signature, caPublicKey)) {
    throw new HerdError('CERT_UNTRUSTED', `certificate "${body.subject}" has a signature that does not verify against CA ${caId}`);
  }
  if (nowSeconds < body.notBefore) {
    throw new HerdError('CERT_NOT_YET_VALID', `certificate "${body.subject}" is not valid before ${new Date(body.notBefore * 1000).toISOString()}`);
  }
  if (nowSeconds > body.notAfter) {
    throw new HerdError('CERT_EXPIRED', `certificate "${body.subject}" expired at ${new Date(body.notAfter * 1000).toISOString()}`, {
      hint: 'issue a new one with `herd cert issue`',
    });
  }
  certPublicKey(body);
  return body;
}
