import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { toBase64Url } from '../../../../src/protocol/bytes.ts';
import { generateKeyPair } from '../../../../src/protocol/cert.ts';
import { parseRevocations, signRevocations } from '../../../../src/protocol/revocations.ts';
import { loadHostIdentity, refreshRevocations, storeRevocations } from '../../../../src/remote/agent/identity.ts';
import { statePaths } from '../../../../src/shared/agentPaths.ts';

const dir = mkdtempSync(join(tmpdir(), 'herd-identity-'));
const ca = generateKeyPair();
const paths = statePaths(dir, 'a'.repeat(64));
writeFileSync(paths.caKey, `${toBase64Url(ca.publicKey)}\n`);
const list = (version: number): { list: ReturnType<typeof parseRevocations>; text: string } => {
  const text = signRevocations({ version, serials: [], subjects: [{ subject: `s${version}`, before: 1 }] }, ca, 1_800_000_000);
  return { list: parseRevocations(text, ca.publicKey), text };
};

test('a list one agent stores reaches another agent of the same state directory; an older one never', () => {
  const first = loadHostIdentity(paths);
  const second = loadHostIdentity(paths);
  assert.is(first.revocations, null);
  storeRevocations(paths, first, list(2));
  assert.is(second.revocations, null);
  refreshRevocations(paths, second);
  assert.is(second.revocations?.list.version, 2, 'read again after the other agent wrote it');
  storeRevocations(paths, first, list(1));
  assert.is(first.revocations?.list.version, 2, 'an older list is not stored');
  // Written behind both agents' backs (an older herd would not do it; a file put back from a backup might).
  writeFileSync(paths.revocations, `${list(1).text}\n`);
  utimesSync(paths.revocations, new Date(), new Date(Date.now() + 5000));
  refreshRevocations(paths, second);
  assert.is(second.revocations?.list.version, 2, 'a file with an older list does not take a newer one away');
  assert.is(loadHostIdentity(paths).revocations?.list.version, 1, 'a new agent reads what is on disk');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
