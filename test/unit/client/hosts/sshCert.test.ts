import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkHostCertificate, parseCertificate, plainType } from '../../../../src/client/hosts/sshCert.ts';

/* Certificates made by OpenSSH's own ssh-keygen -s, checked as a client checks a host's. */
const dir = mkdtempSync(join(tmpdir(), 'herd-sshcert-'));
const keygen = (...args: string[]): void => void execFileSync('ssh-keygen', ['-q', ...args], { stdio: 'ignore' });
const blobOf = (file: string): Uint8Array => Buffer.from(readFileSync(file, 'utf8').trim().split(/\s+/)[1]!, 'base64');
const key = (name: string, type: string): string => {
  keygen('-t', type, '-N', '', '-f', join(dir, name), ...(type === 'rsa' ? ['-b', '2048'] : []));
  return join(dir, name);
};
const caEd = key('ca-ed', 'ed25519');
const caRsa = key('ca-rsa', 'rsa');
const caEc = key('ca-ec', 'ecdsa');
const hostEd = key('host-ed', 'ed25519');
const hostEc = key('host-ec', 'ecdsa');
/** Signs `host`'s key with `ca` and returns the certificate blob. */
const certify = (ca: string, host: string, flags: string[]): Uint8Array => {
  keygen('-s', ca, '-I', 'test', ...flags, `${host}.pub`);
  return blobOf(`${host}-cert.pub`);
};
const now = Math.floor(Date.now() / 1000);
const host = 'web1.fleet.example';
const check = (blob: Uint8Array, ca: string, extra: { revoked?: Uint8Array[]; name?: string } = {}) => checkHostCertificate(blob, extra.name ?? host, [blobOf(`${ca}.pub`)], extra.revoked ?? [], now);

test('a host certificate from each kind of CA (ed25519, RSA SHA-2, ECDSA) verifies, for the principal it names', () => {
  for (const ca of [caEd, caRsa, caEc]) {
    const verdict = check(certify(ca, hostEd, ['-h', '-n', `${host},10.0.0.1`, '-V', '-5m:+1h']), ca);
    assert.ok(verdict.ok, `${ca}: ${verdict.ok ? '' : verdict.why}`);
    assert.ok(check(certify(ca, hostEd, ['-h', '-n', `${host},10.0.0.1`, '-V', '-5m:+1h']), ca, { name: '10.0.0.1' }).ok);
  }
});

test('the certified key is the host key itself (what signs the key exchange)', () => {
  const cert = parseCertificate(certify(caEd, hostEc, ['-h', '-n', host]));
  assert.is(plainType(cert.type), 'ecdsa-sha2-nistp256');
  assert.equal([...cert.plainKey], [...blobOf(`${hostEc}.pub`)]);
  assert.equal(cert.principals, [host]);
  assert.is(cert.certType, 2);
});

test('refused as OpenSSH refuses: another name, expired, not yet valid, a user certificate, another CA, a revoked CA, a changed byte', () => {
  const good = certify(caEd, hostEd, ['-h', '-n', host, '-V', '-5m:+1h']);
  const why = (verdict: ReturnType<typeof check>): string => (verdict.ok ? 'accepted' : verdict.why);
  assert.match(why(check(good, caEd, { name: 'db1.fleet.example' })), /names web1\.fleet\.example, not db1/);
  assert.match(why(check(certify(caEd, hostEd, ['-h', '-n', host, '-V', '20200101:20200102']), caEd)), /expired/);
  assert.match(why(check(certify(caEd, hostEd, ['-h', '-n', host, '-V', '+1d:+2d']), caEd)), /not valid yet/);
  assert.match(why(check(certify(caEd, hostEd, ['-n', host]), caEd)), /user certificate/);
  assert.match(why(check(good, caRsa)), /CA that known_hosts does not trust/);
  assert.match(why(check(good, caEd, { revoked: [blobOf(`${caEd}.pub`)] })), /revoked/);
  assert.match(why(check(certify(caEd, hostEd, ['-h', '-V', '-5m:+1h']), caEd)), /names no host/, 'no principals: refused for hosts');
  const tampered = Uint8Array.from(good);
  const at = Buffer.from(tampered).indexOf(Buffer.from(host));
  tampered[at] = 'x'.charCodeAt(0);
  assert.match(why(checkHostCertificate(tampered, `x${host.slice(1)}`, [blobOf(`${caEd}.pub`)], [], now)), /signature does not verify/);
  assert.match(why(checkHostCertificate(good.subarray(0, 100), host, [blobOf(`${caEd}.pub`)], [], now)), /malformed/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
