import { mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BlobStore } from '../../../../src/remote/data/blobStore.ts';

test('blobs are stored by their sha256, checked against the one named, and pruned when unused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'herd-blobs-'));
  try {
    const store = new BlobStore(dir);
    const w = await store.writer(5);
    await w.write(new TextEncoder().encode('he'));
    await w.write(new TextEncoder().encode('llo'));
    const sha = await w.finish();
    assert.is(sha, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    assert.ok(store.has(sha));
    const wrong = await store.writer(5, 'ab'.repeat(32));
    await wrong.write(new TextEncoder().encode('hello'));
    try {
      await wrong.finish();
      assert.unreachable('a wrong hash was stored');
    } catch (err) {
      assert.match((err as Error).message, /does not match the sha256/);
    }
    assert.equal(readdirSync(dir).filter((n) => n.startsWith('.tmp-')), [], 'its temporary file is gone');
    const old = new Date(Date.now() - 8 * 24 * 3600_000);
    utimesSync(store.pathOf(sha), old, old);
    assert.is(store.prune(7 * 24 * 3600_000), 1);
    assert.not.ok(store.has(sha));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
