import { createPublicKey, verify } from 'node:crypto';
import { concat } from '../../protocol/bytes.ts';
import { ed25519 } from '../../protocol/ed25519.ts';

/*
 * OpenSSH host certificates (PROTOCOL.certkeys), as a known_hosts `@cert-authority` line trusts
 * them: the certified key, its principals and validity, and the CA's signature over everything
 * before it. Only what a client checking a host needs.
 */

/** A certificate's algorithm names end so: ssh-ed25519-cert-v01@openssh.com and the like. */
export const CERT_SUFFIX = '-cert-v01@openssh.com';

export interface SshCertificate {
  /** The certificate's own type, e.g. ssh-ed25519-cert-v01@openssh.com. */
  type: string;
  /** The certified key as a plain public key blob (what the host signs the key exchange with). */
  plainKey: Uint8Array;
  serial: bigint;
  /** 1 user, 2 host. */
  certType: number;
  keyId: string;
  principals: string[];
  validAfter: bigint;
  validBefore: bigint;
  criticalOptions: Uint8Array;
  /** The CA's public key blob. */
  signatureKey: Uint8Array;
  /** The bytes the signature covers, and the signature (a type and a blob). */
  signed: Uint8Array;
  signature: { type: string; blob: Uint8Array };
}

class Reader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}
  private need(n: number): void {
    if (this.at + n > this.bytes.length) throw new Error('truncated certificate');
  }
  u32(): number {
    this.need(4);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.at, 4).getUint32(0);
    this.at += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.at, 8).getBigUint64(0);
    this.at += 8;
    return v;
  }
  string(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const v = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  text(): string {
    return new TextDecoder().decode(this.string());
  }
  get position(): number {
    return this.at;
  }
  get done(): boolean {
    return this.at === this.bytes.length;
  }
}

function sshString(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** The plain key type behind a certificate type: ssh-ed25519-cert-v01@openssh.com → ssh-ed25519. */
export function plainType(certType: string): string {
  return certType.slice(0, -CERT_SUFFIX.length);
}

export function isCertificateType(type: string): boolean {
  return type.endsWith(CERT_SUFFIX);
}

/** Parses a certificate blob (as a host presents it in the key exchange); throws on anything malformed. */
export function parseCertificate(blob: Uint8Array): SshCertificate {
  const r = new Reader(blob);
  const type = r.text();
  if (!isCertificateType(type)) throw new Error(`${type} is not a certificate type`);
  r.string(); // nonce
  const base = plainType(type);
  const text = new TextEncoder();
  let keyFields: Uint8Array[];
  if (base === 'ssh-ed25519') keyFields = [r.string()];
  else if (base === 'ssh-rsa') {
    const e = r.string();
    keyFields = [e, r.string()];
  } else if (base.startsWith('ecdsa-sha2-')) {
    const curve = r.string();
    keyFields = [curve, r.string()];
  } else throw new Error(`unsupported certificate key type ${base}`);
  const plainKey = concat([sshString(text.encode(base)), ...keyFields.map(sshString)]);
  const serial = r.u64();
  const certType = r.u32();
  const keyId = r.text();
  const principalsBlob = new Reader(r.string());
  const principals: string[] = [];
  while (!principalsBlob.done) principals.push(principalsBlob.text());
  const validAfter = r.u64();
  const validBefore = r.u64();
  const criticalOptions = r.string();
  r.string(); // extensions
  r.string(); // reserved
  const signatureKey = r.string();
  const signed = blob.subarray(0, r.position);
  const sig = new Reader(r.string());
  const signature = { type: sig.text(), blob: sig.string() };
  if (!r.done || !sig.done) throw new Error('trailing bytes after the certificate');
  return { type, plainKey, serial, certType, keyId, principals, validAfter, validBefore, criticalOptions, signatureKey, signed, signature };
}

/** An unsigned big-endian integer (SSH mpint) without its sign byte, padded to `size` bytes. */
function unsigned(mpint: Uint8Array, size?: number): Uint8Array {
  let bytes = mpint;
  while (bytes.length > 1 && bytes[0] === 0) bytes = bytes.subarray(1);
  if (size === undefined || bytes.length >= size) return bytes;
  const out = new Uint8Array(size);
  out.set(bytes, size - bytes.length);
  return out;
}

const CURVES: Record<string, { crv: string; size: number; hash: string }> = {
  nistp256: { crv: 'P-256', size: 32, hash: 'sha256' },
  nistp384: { crv: 'P-384', size: 48, hash: 'sha384' },
  nistp521: { crv: 'P-521', size: 66, hash: 'sha512' },
};

/** Whether `signature` over `data` verifies with the SSH public key blob `key` (ed25519, RSA with SHA-2, ECDSA). */
export function verifySshSignature(key: Uint8Array, data: Uint8Array, signature: { type: string; blob: Uint8Array }): boolean {
  try {
    const r = new Reader(key);
    const type = r.text();
    const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
    if (type === 'ssh-ed25519') {
      return signature.type === 'ssh-ed25519' && ed25519().verify(data, signature.blob, r.string());
    }
    if (type === 'ssh-rsa') {
      // SHA-1 ("ssh-rsa") signatures are refused, as OpenSSH does for CAs since 8.2.
      const hash = signature.type === 'rsa-sha2-512' ? 'sha512' : signature.type === 'rsa-sha2-256' ? 'sha256' : null;
      if (hash === null) return false;
      const e = unsigned(r.string());
      const n = unsigned(r.string());
      const publicKey = createPublicKey({ key: { kty: 'RSA', n: b64(n), e: b64(e) }, format: 'jwk' });
      return verify(hash, data, publicKey, signature.blob);
    }
    if (type.startsWith('ecdsa-sha2-')) {
      const curve = CURVES[new TextDecoder().decode(r.string())];
      if (curve === undefined || signature.type !== type) return false;
      const q = r.string();
      if (q[0] !== 4 || q.length !== 1 + 2 * curve.size) return false;
      const publicKey = createPublicKey({ key: { kty: 'EC', crv: curve.crv, x: b64(q.subarray(1, 1 + curve.size)), y: b64(q.subarray(1 + curve.size)) }, format: 'jwk' });
      const sig = new Reader(signature.blob);
      const rs = concat([unsigned(sig.string(), curve.size), unsigned(sig.string(), curve.size)]);
      if (!sig.done || rs.length !== 2 * curve.size) return false;
      return verify(curve.hash, data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, rs);
    }
    return false;
  } catch {
    return false;
  }
}

export type CertificateVerdict = { ok: true; certificate: SshCertificate } | { ok: false; why: string };

/**
 * A host certificate as OpenSSH accepts it for `host`: signed by one of `authorities` (none of
 * them revoked), type host, valid now, naming the host among its principals (an empty list is
 * refused, as OpenSSH does for host certificates), and no critical option it does not know (none
 * are defined for hosts).
 */
export function checkHostCertificate(
  blob: Uint8Array,
  host: string,
  authorities: readonly Uint8Array[],
  revoked: readonly Uint8Array[],
  nowSeconds: number,
): CertificateVerdict {
  let cert: SshCertificate;
  try {
    cert = parseCertificate(blob);
  } catch (err) {
    return { ok: false, why: `a malformed host certificate (${(err as Error).message})` };
  }
  const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
  if (cert.certType !== 2) return { ok: false, why: 'a user certificate, not a host certificate' };
  if (revoked.some((k) => same(k, cert.signatureKey) || same(k, cert.plainKey) || same(k, blob))) return { ok: false, why: 'its key or its CA is revoked (@revoked)' };
  if (!authorities.some((k) => same(k, cert.signatureKey))) return { ok: false, why: 'it is signed by a CA that known_hosts does not trust for this host' };
  if (!verifySshSignature(cert.signatureKey, cert.signed, cert.signature)) return { ok: false, why: 'the CA signature does not verify' };
  const now = BigInt(nowSeconds);
  if (now < cert.validAfter) return { ok: false, why: 'it is not valid yet' };
  if (now >= cert.validBefore) return { ok: false, why: 'it has expired' };
  // As OpenSSH: the host name lowercased, each principal as written.
  if (!cert.principals.includes(host.toLowerCase())) {
    return { ok: false, why: `it names ${cert.principals.length === 0 ? 'no host' : cert.principals.join(', ')}, not ${host}` };
  }
  if (cert.criticalOptions.length > 0) return { ok: false, why: 'it carries critical options' };
  return { ok: true, certificate: cert };
}
