import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HerdError } from '../../../../src/protocol/errors.ts';
import { checkManifest, decodeManifest, decodeWant, encodeManifest, encodeWant, parseEntry, uploadPathProblem, type UploadEntry } from '../../../../src/protocol/uploads/manifest.ts';

const refused = (entries: UploadEntry[], pattern: RegExp): void => {
  try {
    checkManifest(entries);
  } catch (err) {
    assert.instance(err, HerdError);
    assert.is((err as HerdError).code, 'INVALID_SPEC');
    assert.match((err as HerdError).message, pattern);
    return;
  }
  assert.unreachable(`accepted ${JSON.stringify(entries)}`);
};

test('upload paths: relative, no "..", ".", empty components or control characters', () => {
  for (const ok of ['a', 'a/b', 'dir/file.txt', 'é/ü', '.hidden', 'a..b']) assert.is(uploadPathProblem(ok), null, ok);
  for (const [bad, why] of [['', /empty path/], ['/etc/passwd', /absolute/], ['../x', /"\.\."/], ['a/../../x', /"\.\."/], ['a//b', /empty or "\."/], ['./a', /empty or "\."/], ['a/', /empty/], ['a\nb', /control/], ['a\tb', /control/], ['x'.repeat(256), /over 255/]] as const) {
    assert.match(uploadPathProblem(bad) ?? '', why, JSON.stringify(bad));
  }
});

test('a manifest: parents before children, each named once, nothing under a symlink or a file', () => {
  const file = (path: string, size = 1): UploadEntry => ({ kind: 'file', path, mode: 0o644, size });
  assert.equal(checkManifest([{ kind: 'dir', path: 'd', mode: 0o755 }, file('d/f', 10), { kind: 'symlink', path: 'd/l', target: '/etc' }, file('g', 5)]), { files: 2, bytes: 15 });
  refused([file('d/f')], /not inside a directory of the upload named before it/);
  refused([{ kind: 'symlink', path: 'l', target: '/etc' }, file('l/passwd')], /not inside a directory/);
  refused([file('f'), file('f/x')], /not inside a directory/);
  refused([file('f'), file('f')], /named twice/);
  refused([{ kind: 'dir', path: 'd', mode: 0o755 }, { kind: 'symlink', path: 'd', target: '.' }], /named twice/);
  assert.throws(() => checkManifest([file('a'), file('b')], { maxEntries: 1 }), /over the limit of 1/);
  assert.throws(() => checkManifest([file('a', 6), file('b', 6)], { maxBytes: 10 }), /over the limit/);
});

test('entries from the wire: only dirs, files and symlinks; modes lose setuid, setgid and sticky', () => {
  assert.equal(parseEntry({ kind: 'file', path: 'x', mode: 0o4755, size: 3 }), { kind: 'file', path: 'x', mode: 0o755, size: 3 });
  for (const kind of ['device', 'fifo', 'socket', 'link', 'hardlink']) assert.throws(() => parseEntry({ kind, path: 'x', mode: 0o644 }), /directories, files and symlinks only/);
  assert.throws(() => parseEntry({ kind: 'file', path: 'x', mode: 0o644, size: -1 }), /bad size/);
  assert.throws(() => parseEntry({ kind: 'file', path: 'x', mode: 0o644, size: 1, sha256: 'abc' }), /bad sha256/);
  assert.throws(() => parseEntry({ kind: 'symlink', path: 'x', target: '' }), /bad symlink target/);
  assert.equal(parseEntry({ kind: 'dir', path: 'd', mode: 0o755, mtimeMs: 1700000000123 }), { kind: 'dir', path: 'd', mode: 0o755, mtimeMs: 1700000000123 });
  assert.throws(() => parseEntry({ kind: 'file', path: 'x', mode: 0o644, size: 1, mtimeMs: -5 }), /bad mtimeMs/);
});

test('the manifest round-trips as JSON lines; a line that is not an entry is refused', () => {
  const entries: UploadEntry[] = [{ kind: 'dir', path: 'd', mode: 0o700 }, { kind: 'file', path: 'd/f', mode: 0o600, size: 2, sha256: 'a'.repeat(64) }];
  assert.equal(decodeManifest(encodeManifest(entries)).entries, entries);
  assert.throws(() => decodeManifest(new TextEncoder().encode('{"kind":"file"\n')), /not JSON/);
  assert.throws(() => decodeManifest(new TextEncoder().encode('{"kind":"dir","path":"d","mode":493}')), /newline/);
  assert.equal(decodeManifest(new Uint8Array(0)).entries, []);
});

test('the want list is a bitmap over the files, and must match their count', () => {
  const want = [true, false, false, true, true, false, false, false, true, false];
  assert.equal(decodeWant(encodeWant(want), want.length), want);
  assert.equal(decodeWant(encodeWant([]), 0), []);
  assert.throws(() => decodeWant(encodeWant(want), 30), /does not match/);
});

test.run();
