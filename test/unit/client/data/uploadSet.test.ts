import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseUploadSpec, walkUploads } from '../../../../src/client/data/uploadSet.ts';

const none = (): boolean => false;

test('--upload SRC[:DEST]: DEST under /work, SRC\'s name by default, a whole existing name kept', () => {
  assert.equal(parseUploadSpec('run.sh', none), { source: 'run.sh', dest: 'run.sh' });
  assert.equal(parseUploadSpec('./data/', none), { source: './data/', dest: 'data' });
  assert.equal(parseUploadSpec('data:inputs/d', none), { source: 'data', dest: 'inputs/d' });
  assert.equal(parseUploadSpec('data:/work/x', none), { source: 'data', dest: 'x' });
  assert.equal(parseUploadSpec('data:/work', none), { source: 'data', dest: '' });
  assert.equal(parseUploadSpec('a:b', (p) => p === 'a:b'), { source: 'a:b', dest: 'a:b' });
  assert.throws(() => parseUploadSpec('data:/etc', none), /outside the job's \/work/);
  assert.throws(() => parseUploadSpec('data:../x', none), /outside the job's \/work/);
  assert.throws(() => parseUploadSpec('data:/work/../etc', none), /outside/);
});

test('a walk: the directories above DEST, then the tree in name order, symlinks kept, devices refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herd-walk-'));
  try {
    mkdirSync(join(dir, 'src', 'b'), { recursive: true });
    writeFileSync(join(dir, 'src', 'a.sh'), 'echo hi\n');
    chmodSync(join(dir, 'src', 'a.sh'), 0o4755);
    writeFileSync(join(dir, 'src', 'b', 'c'), 'x');
    symlinkSync('b/c', join(dir, 'src', 'l'));
    const set = walkUploads([{ source: join(dir, 'src'), dest: 'in/src' }]);
    assert.equal(set.entries.map((e) => [e.kind, e.path]), [['dir', 'in'], ['dir', 'in/src'], ['file', 'in/src/a.sh'], ['dir', 'in/src/b'], ['file', 'in/src/b/c'], ['symlink', 'in/src/l']]);
    assert.is((set.entries[2] as { mode: number }).mode, 0o755, 'no setuid bit');
    assert.equal(set.totals, { files: 2, bytes: 9 });
    const first = walkUploads([{ source: join(dir, 'src'), dest: '' }]).entries[0]!;
    assert.equal({ ...first, mtimeMs: 0 }, { kind: 'file', path: 'a.sh', mode: 0o755, size: 8, mtimeMs: 0 });
    assert.is((first as { mtimeMs: number }).mtimeMs, Math.floor(statSync(join(dir, 'src', 'a.sh')).mtimeMs), 'its mtime, to the millisecond');
    assert.throws(() => walkUploads([{ source: '/dev/null', dest: 'null' }]), /a device file/);
    execFileSync('mkfifo', [join(dir, 'src', 'fifo')]);
    assert.throws(() => walkUploads([{ source: join(dir, 'src'), dest: 'x' }]), /fifo is a FIFO/);
    assert.throws(() => walkUploads([{ source: join(dir, 'nope'), dest: 'x' }]), /no such file/);
    assert.throws(() => walkUploads([{ source: join(dir, 'src', 'a.sh'), dest: '' }]), /only a directory's content/);
    assert.throws(() => walkUploads([{ source: join(dir, 'src', 'a.sh'), dest: 'x' }, { source: join(dir, 'src', 'b', 'c'), dest: 'x' }]), /would both be \/work\/x/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
