import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { peerError } from '../../src/protocol/errors.ts';
import { MAX_PARTIAL_LINE, PrefixedLines, SPLIT_MARKER } from '../../src/client/output/lineWriter.ts';
import { errorLine } from '../../src/client/output/render.ts';
import { outputFileName } from '../../src/client/output/runOutput.ts';
import { escapeControlBytes } from '../../src/client/output/safeText.ts';
import { isAgentSocketPath } from '../../src/client/state/agentCache.ts';
import { privateDirectory } from '../../src/client/state/privateDir.ts';
import { agentTag } from '../../src/shared/agentPaths.ts';
import { codeOf } from './codeOf.ts';

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

test('escapeControlBytes: C0, DEL, C1 (in UTF-8 and alone), bidi and separators escaped; tab, newline, text and invalid UTF-8 kept', () => {
  const input = Buffer.concat([Buffer.from('a\u001b]0;title\u0007b\rc\u007f\u009b2J\u202ed\te\n\u2028é'), Buffer.from([0x9b, 0x41, 0xff, 0xfe])]);
  assert.is(Buffer.from(escapeControlBytes(input)).toString('latin1'), Buffer.from('a\\e]0;title\\ab\\rc\\x7f\\x9b2J\\u{202e}d\te\n\\u{2028}é\\x9bA').toString('latin1') + '\u00ff\u00fe');
  const plain = Buffer.from('plain text, ünïcödé, \t and\n');
  assert.ok(escapeControlBytes(plain) === plain, 'nothing to escape: the same buffer');
});

test('escapeControlBytes: overlong and surrogate encodings never pass as text; bidi marks and U+061C escaped', () => {
  const out = (bytes: number[] | string): string => Buffer.from(escapeControlBytes(typeof bytes === 'string' ? Buffer.from(bytes) : Uint8Array.from(bytes))).toString('latin1');
  assert.not.match(out([0xe0, 0x80, 0x9b, 0x5b, 0x33, 0x31, 0x6d]), /[\x80-\x9f]/, 'an overlong ESC');
  assert.not.match(out([0xf0, 0x80, 0x80, 0x9b]), /[\x80-\x9f]/);
  assert.not.match(out([0xed, 0xa0, 0x80]), /\xa0\x80/, 'a surrogate is not a sequence');
  assert.is(out('a\u200fb\u200ec\u061cd'), 'a\\u{200f}b\\u{200e}c\\u{61c}d');
});

test('agent socket paths: only herd\'s own shape, in a herd state directory', () => {
  const tag = 'a'.repeat(64);
  const name = `agent-${agentTag(tag)}.sock`;
  assert.ok(isAgentSocketPath(`/var/lib/herd/${name}`, tag));
  assert.ok(isAgentSocketPath(`/home/u/.cache/herd/${name}`, tag));
  assert.not.ok(isAgentSocketPath(`/tmp/${name}`, tag), 'a directory the host chose');
  assert.not.ok(isAgentSocketPath(`/var/lib/herd/../../tmp/herd/${name}`, tag));
  assert.not.ok(isAgentSocketPath(`herd/${name}`, tag));
  assert.not.ok(isAgentSocketPath('/var/lib/herd/agent-other.sock', tag));
});

test('the private runtime directory: a relative path is refused, not resolved', () => {
  assert.is(codeOf(() => privateDirectory('run/herd')), 'STATE_UNSAFE');
});

test('prefixed lines: a control sequence split over two chunks is escaped as one', () => {
  const lines = new PrefixedLines('h1: ', { escape: true });
  const out = Buffer.concat([lines.push(Buffer.from([0x41, 0xc2])), lines.push(Buffer.from([0x9b, 0x32, 0x4a, 0x0a]))]);
  assert.is(out.toString('latin1'), 'h1: A\\x9b2J\n');
  const raw = new PrefixedLines('h1: ');
  assert.is(Buffer.concat([raw.push(Buffer.from('a\u001b[2J')), raw.push(Buffer.from('b\n'))]).toString(), 'h1: a\u001b[2Jb\n', 'not on a terminal: bytes as sent');
});

test('prefixed lines: a partial line is held up to MAX_PARTIAL_LINE, then shown in pieces with the marker', () => {
  const lines = new PrefixedLines('h: ');
  const chunk = Buffer.alloc(1000, 0x78);
  let out = '';
  for (let i = 0; i < 200; i++) out += text(lines.push(chunk));
  out += text(lines.end());
  const pieces = out.split('\n').filter(Boolean);
  assert.is(pieces.length, Math.ceil(200_000 / MAX_PARTIAL_LINE));
  assert.ok(pieces.slice(0, -1).every((p) => p === `h: ${'x'.repeat(MAX_PARTIAL_LINE)}${SPLIT_MARKER.trimEnd()}`));
  assert.is(pieces.at(-1), `h: ${'x'.repeat(200_000 % MAX_PARTIAL_LINE)}`);
});

test('prefixed lines: an 80 MB unterminated line takes time linear in its size', () => {
  const lines = new PrefixedLines('h: ');
  const chunk = Buffer.alloc(32 * 1024, 0x79);
  const time = (chunks: number): number => {
    const started = performance.now();
    for (let i = 0; i < chunks; i++) lines.push(chunk);
    return performance.now() - started;
  };
  time(64); // warm up
  const small = time(320); // 10 MB
  const large = time(2560); // 80 MB
  // Quadratic would be 64 times the small run; linear 8 (allow for noise).
  assert.ok(large < small * 24 + 50, `10 MB in ${small.toFixed(0)} ms, 80 MB in ${large.toFixed(0)} ms`);
});

test('peer errors: a code only herd can know, or no code, is quoted as the peer\'s', () => {
  const forged = peerError('HOST_KEY_MISMATCH', 'all good', 'JOB_FAILED', { host: 'h1' });
  assert.is(forged.code, 'JOB_FAILED');
  assert.is(forged.message, 'the peer reported "HOST_KEY_MISMATCH": all good');
  assert.is(peerError('NOT_A_CODE', 'x', 'PROTOCOL').message, 'the peer reported "NOT_A_CODE": x');
  assert.is(peerError('JOB_NOT_FOUND', 'no such job', 'PROTOCOL').code, 'JOB_NOT_FOUND', 'a code a host may send is kept');
  const line = errorLine(peerError('PERMISSION_DENIED', '\u001b[2J\u001b[Hall good', 'JOB_FAILED', { host: 'h\u001b1', hint: 'x\ry' }));
  assert.not.ok(/[\u0000-\u001f]/.test(line), line);
  assert.is(line, 'herd: h\\e1: \\e[2J\\e[Hall good [PERMISSION_DENIED] — x\\ry');
});

test('output file names are one-to-one', () => {
  assert.is(outputFileName('root@10.0.0.5:22'), 'root@10.0.0.5:22');
  assert.is(outputFileName('a/b'), 'a%2Fb');
  assert.is.not(outputFileName('a_b'), outputFileName('a/b'));
  assert.is(outputFileName('a%2Fb'), 'a%252Fb');
  assert.is(outputFileName('../x'), '..%2Fx');
  assert.is(outputFileName('é'), '%C3%A9');
});

test.run();
