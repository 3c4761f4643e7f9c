import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPair, issueCert, keyId, parseCert } from '../../../../src/protocol/cert.ts';
import { parseRevocations, signRevocations } from '../../../../src/protocol/revocations.ts';
import { entryOf, issuedRecordPath, readIssued, recordIssued, statusOf } from '../../../../src/client/config/issuedRecord.ts';

const now = 1_800_000_000;
const ca = generateKeyPair();

function entry(subject: string, ttl = 3600) {
  return entryOf(parseCert(issueCert(ca, { subject, role: 'user', publicKey: generateKeyPair().publicKey, now, ttlSeconds: ttl })).body, new Date(now * 1000));
}

test('the record sits beside its config, named after it', () => {
  assert.is(issuedRecordPath('/home/a/.config/herd/config.yml'), '/home/a/.config/herd/config.issued.jsonl');
  assert.is(issuedRecordPath('/tmp/alice.yaml'), '/tmp/alice.issued.jsonl');
});

test('entries come back in order; a torn or foreign line is counted, not used', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herd-issued-'));
  const previous = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = join(dir, 'cache');
  try {
    const config = join(dir, 'config.yml');
    const [a, b] = [entry('a'), entry('b')];
    recordIssued(config, a);
    appendFileSync(issuedRecordPath(config), '{"serial": "torn\n[1,2]\n');
    recordIssued(config, b);
    const read = readIssued(config);
    assert.equal(read.entries, [a, b]);
    assert.is(read.unreadable, 2);
  } finally {
    if (previous === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = previous;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('status: revoked by serial or by a lock of its subject, else expired after notAfter, else valid', () => {
  const [a, b, c] = [entry('a'), entry('b'), entry('c', 60)];
  const list = parseRevocations(signRevocations({ version: 1, serials: [a.serial], subjects: [{ subject: 'b', before: now + 1 }] }, ca, now), ca.publicKey);
  assert.is(statusOf(a, list, now).status, 'revoked');
  assert.match(statusOf(b, list, now).why ?? '', 'certificates of b issued before');
  assert.is(statusOf(c, list, now).status, 'valid');
  assert.is(statusOf(c, list, now + 61).status, 'expired');
  const other = generateKeyPair();
  const foreign = { ...a, ca: keyId(other.publicKey) };
  assert.is(statusOf(foreign, list, now).status, 'valid', 'another CA\'s list says nothing of this CA\'s certificates');
});

test.run();
