import { CERT_SUFFIX, isCertificateType, parseCertificate } from '../hosts/sshCert.ts';

/*
 * Host certificates in ssh2, which does not negotiate them: scripts/build.mjs patches ssh2's key
 * exchange (lib/protocol/kex.js, lib/protocol/constants.js) to call these two functions, so a
 * `*-cert-v01@openssh.com` host key algorithm can be asked for, the certificate reaches herd's
 * hostVerifier whole (checked there against @cert-authority lines, see sshCert.ts), and the key
 * exchange is verified with the certified key inside it.
 */

/** The certificate host key algorithms, in OpenSSH's order of preference. */
export const CERT_HOST_KEY_ALGORITHMS = [
  `ssh-ed25519${CERT_SUFFIX}`,
  `ecdsa-sha2-nistp256${CERT_SUFFIX}`,
  `ecdsa-sha2-nistp384${CERT_SUFFIX}`,
  `ecdsa-sha2-nistp521${CERT_SUFFIX}`,
  `rsa-sha2-512${CERT_SUFFIX}`,
  `rsa-sha2-256${CERT_SUFFIX}`,
];

/** The signature algorithm of a host key algorithm: a certificate's host signs as its plain key does. */
export function signatureType(algorithm: string): string {
  return isCertificateType(algorithm) ? algorithm.slice(0, -CERT_SUFFIX.length) : algorithm;
}

/** The host key ssh2 verifies the exchange with: the certified key for a certificate, else the key itself. */
export function plainHostKey(blob: Buffer): Buffer {
  const length = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const type = blob.subarray(4, 4 + length).toString('latin1');
  if (!isCertificateType(type)) return blob;
  return Buffer.from(parseCertificate(blob).plainKey);
}

/** An RSA certificate algorithm's key type: rsa-sha2-512-cert-v01@openssh.com is an ssh-rsa-cert-v01@openssh.com key. */
export function certificateKeyMatches(algorithm: string, keyType: string): boolean {
  return isCertificateType(algorithm) && algorithm.startsWith('rsa-sha2-') && keyType === `ssh-rsa${CERT_SUFFIX}`;
}
