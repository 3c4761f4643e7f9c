import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_PARTIAL_LINE, PrefixedLines, SPLIT_MARKER, StampedLines } from '../../../../src/client/output/lineWriter.ts';

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

test('timestamps start every line, also lines split across chunks', () => {
  const lines = new StampedLines();
  assert.is(lines.push(new TextEncoder().encode('a\nb'), 'T1').toString(), 'T1 a\nT1 b');
  assert.is(lines.push(new TextEncoder().encode('c\nd\n'), 'T2').toString(), 'c\nT2 d\n');
});

test('prefixed lines hold partial lines until complete or ended', () => {
  const lines = new PrefixedLines('h1: ');
  const out = [lines.push(Buffer.from('a\nb')), lines.push(Buffer.from('c')), lines.push(Buffer.from('\nd')), lines.end(), lines.end()];
  assert.equal(out.map(String), ['h1: a\n', '', 'h1: bc\n', 'h1: d\n', '']);
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

test.run();
