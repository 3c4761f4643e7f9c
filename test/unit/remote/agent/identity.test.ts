import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { toBase64Url } from '../../../../src/protocol/bytes.ts';
import { generateKeyPair, issueCert, keyId } from '../../../../src/protocol/cert.ts';
import { parseRevocations, signRevocations } from '../../../../src/protocol/revocations.ts';
import { addCa, loadHostIdentity, refreshTrust, removeCa, storeHostCert, storeRevocations } from '../../../../src/remote/agent/identity.ts';
import { statePaths, type StatePaths } from '../../../../src/shared/agentPaths.ts';
import { codeOf } from '../../helpers/codeOf.ts';

const root = mkdtempSync(join(tmpdir(), 'herd-identity-'));
let count = 0;
function stateDir(): StatePaths {
  const dir = join(root, String(count++));
  mkdirSync(dir, { mode: 0o700 });
  return statePaths(dir, 'a'.repeat(64));
}
const ca = generateKeyPair();
const caId = keyId(ca.publicKey);
const list = (version: number): { list: ReturnType<typeof parseRevocations>; text: string } => {
  const text = signRevocations({ version, serials: [], subjects: [{ subject: `s${version}`, before: 1 }] }, ca, 1_800_000_000);
  return { list: parseRevocations(text, ca.publicKey), text };
};

test('a state directory of herd before several CAs: its CA, host certificate and list are trusted as before, its jobs are that CA\'s', () => {
  const paths = stateDir();
  const hostCert = issueCert(ca, { subject: 'h1', role: 'host', publicKey: generateKeyPair().publicKey, now: 1_800_000_000, ttlSeconds: 60 });
  writeFileSync(paths.legacy.caKey, `${toBase64Url(ca.publicKey)}\n`);
  writeFileSync(paths.legacy.hostCert, `${hostCert}\n`);
  writeFileSync(paths.legacy.revocations, `${list(3).text}\n`);
  const identity = loadHostIdentity(paths);
  assert.equal(identity.cas.map((c) => [c.id, c.hostCert, c.revocations?.list.version]), [[caId, hostCert, 3]]);
  assert.is(identity.legacyCa, caId);
  assert.ok(existsSync(paths.legacy.caKey), 'the old files stay for an older agent beside this one');
  removeCa(paths, identity, caId);
  assert.not.ok(existsSync(paths.legacy.caKey), 'removing the CA removes its old files too');
  assert.equal(loadHostIdentity(paths).cas, [], 'and it does not come back');
});

test('CAs are added and removed; each keeps its own host certificate and list; the order is the order of trust', () => {
  const paths = stateDir();
  const identity = loadHostIdentity(paths);
  const other = generateKeyPair();
  addCa(paths, identity, ca.publicKey);
  addCa(paths, identity, other.publicKey);
  addCa(paths, identity, ca.publicKey);
  storeHostCert(paths, identity, keyId(other.publicKey), 'herd1.x.y');
  storeRevocations(paths, identity, caId, list(1));
  const again = loadHostIdentity(paths);
  assert.equal(again.cas.map((c) => c.id), [caId, keyId(other.publicKey)]);
  assert.equal(again.cas.map((c) => [c.hostCert, c.revocations?.list.version ?? 0]), [[null, 1], ['herd1.x.y', 0]]);
  assert.is(again.legacyCa, null);
  removeCa(paths, again, caId);
  assert.equal(readdirSync(paths.trust).sort(), [`${keyId(other.publicKey)}.cert`, `${keyId(other.publicKey)}.pub`]);
  assert.is(codeOf(() => removeCa(paths, again, caId)), 'INVALID_SPEC');
  writeFileSync(join(paths.trust, `${'0'.repeat(16)}.pub`), `${toBase64Url(ca.publicKey)}\n`);
  assert.equal(loadHostIdentity(paths).cas.map((c) => c.id), [keyId(other.publicKey)], 'a key under another CA\'s name is not trusted');
});

test('what one agent stores reaches another agent of the same state directory; an older list never', () => {
  const paths = stateDir();
  const first = loadHostIdentity(paths);
  addCa(paths, first, ca.publicKey);
  const second = loadHostIdentity(paths);
  const third = loadHostIdentity(paths);
  refreshTrust(paths, third);
  assert.is(second.cas[0]!.revocations, null);
  storeRevocations(paths, first, caId, list(2));
  refreshTrust(paths, second);
  assert.is(second.cas[0]!.revocations?.list.version, 2, 'read again after the other agent wrote it');
  storeRevocations(paths, first, caId, list(1));
  assert.is(first.cas[0]!.revocations?.list.version, 2, 'an older list is not stored');
  const file = join(paths.trust, `${caId}.revocations`);
  writeFileSync(file, `${list(1).text}\n`);
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  refreshTrust(paths, second);
  assert.is(second.cas[0]!.revocations?.list.version, 2, 'a file with an older list does not take a newer one away');
  const other = generateKeyPair();
  addCa(paths, first, other.publicKey);
  refreshTrust(paths, third);
  assert.equal(third.cas.map((c) => c.id), [caId, keyId(other.publicKey)], 'a CA another agent added');
  removeCa(paths, first, caId);
  refreshTrust(paths, third);
  assert.equal(third.cas.map((c) => c.id), [keyId(other.publicKey)], 'and one it removed');
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test.run();
