import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pruneStages, saveStage, takeStage } from '../../../../src/remote/data/stageStore.ts';

test('a stage is taken once, by the holder who made it; unknown and foreign ids look the same', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herd-stages-'));
  try {
    const stage = saveStage(dir, { owner: 'alice', ownerCa: 'ca1', entries: [] });
    assert.throws(() => takeStage(dir, stage.id, { subject: 'alice', ca: 'ca2' }), /is not staged on this host/);
    assert.throws(() => takeStage(dir, stage.id, { subject: 'bob', ca: 'ca1' }), /is not staged on this host/);
    assert.throws(() => takeStage(dir, '../../etc/passwd', { subject: 'alice', ca: 'ca1' }), /is not staged/);
    assert.is(takeStage(dir, stage.id, { subject: 'alice', ca: 'ca1' }).id, stage.id);
    assert.throws(() => takeStage(dir, stage.id, { subject: 'alice', ca: 'ca1' }), /is not staged/, 'used once');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'stale.json'), '{}');
    const old = new Date(Date.now() - 2 * 3600_000);
    utimesSync(join(dir, 'stale.json'), old, old);
    pruneStages(dir);
    assert.equal(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
