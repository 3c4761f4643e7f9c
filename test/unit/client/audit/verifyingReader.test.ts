import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_READ_LINE_BYTES, VerifyingReader } from '../../../../src/client/audit/verifyingReader.ts';
import { chainLine, type AuditEntry, type AuditHead } from '../../../../src/shared/auditChain.ts';

/* A hostile host's audit-read answers, fed as the client gets them: nothing of them is held. */

function entry(n: number): AuditEntry {
  return { time: new Date(1_800_000_000_000 + n * 1000).toISOString(), host: 'h1', hostId: 'id', action: 'run', outcome: 'ok', subject: `s${n}`, serial: null, role: 'user', ca: 'ca', login: null, from: null };
}

function log(count: number): { text: string; head: AuditHead | null } {
  let head: AuditHead | null = null;
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) {
    const next = chainLine(entry(i), head);
    lines.push(next.line);
    head = next.head;
  }
  return { text: lines.map((l) => `${l}\n`).join(''), head };
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test('verify reads a good log in any chunking, file by file, and checks the end against the start', () => {
  const { text, head } = log(30);
  const cut = text.indexOf('\n', text.length / 2) + 1;
  const files = [{ name: '000000000001.jsonl', bytes: Buffer.byteLength(text.slice(0, cut)) }, { name: 'current.jsonl', bytes: Buffer.byteLength(text.slice(cut)) }];
  const all = bytes(text);
  for (const size of [1, 7, 4096, all.length]) {
    const reader = new VerifyingReader(null);
    reader.expect(files, head);
    for (let at = 0; at < all.length; at += size) assert.is(reader.push(all.subarray(at, at + size)), 'more');
    const verdict = reader.finish({ t: 'audit-end', host: 'h1', hostId: 'id', files, head });
    assert.equal(verdict.problems, [], `chunks of ${size}`);
    assert.is(verdict.lines, 30);
  }
  const short = new VerifyingReader(null);
  short.expect(files, head);
  short.push(all.subarray(0, 100));
  assert.throws(() => short.finish({ t: 'audit-end', host: 'h1', hostId: 'id', files, head }), /less audit log than its files hold/);
  const other = new VerifyingReader(null);
  other.expect(files, head);
  other.push(all);
  assert.throws(() => other.finish({ t: 'audit-end', host: 'h1', hostId: 'id', files: [files[0]!], head }), /other audit files at the end/);
  assert.throws(() => other.push(bytes('more\n')), /more audit log than its files hold/);
  assert.throws(() => new VerifyingReader(null).push(bytes('x')), /without naming its files first/);
});

test('64 MiB of newlines (the attack that took 750 s of CPU) stops the read at the first 20 problems', () => {
  const total = 64 * 1024 * 1024;
  const reader = new VerifyingReader(null);
  reader.expect([{ name: 'current.jsonl', bytes: total }], null);
  const chunk = new Uint8Array(64 * 1024).fill(0x0a);
  const began = Date.now();
  let sent = 0;
  let answer: 'more' | 'stop' = 'more';
  while (answer === 'more' && sent < total) {
    answer = reader.push(chunk);
    sent += chunk.length;
  }
  assert.is(answer, 'stop');
  assert.is(sent, chunk.length, 'stopped within the first chunk');
  const verdict = reader.stopped();
  assert.is(verdict.problems.length, 20);
  assert.ok(Date.now() - began < 2000);
});

test('a line without end costs the reader one line, not the line', () => {
  const reader = new VerifyingReader(null);
  const total = 32 * 1024 * 1024;
  reader.expect([{ name: 'current.jsonl', bytes: total }], null);
  const chunk = new Uint8Array(1024 * 1024).fill(0x78);
  const before = process.memoryUsage().rss;
  for (let sent = 0; sent < total; sent += chunk.length) reader.push(chunk);
  assert.ok(process.memoryUsage().rss - before < 16 * MAX_READ_LINE_BYTES * 64, 'nothing of the line is held');
  const verdict = reader.finish({ t: 'audit-end', host: 'h1', hostId: 'id', files: [{ name: 'current.jsonl', bytes: total }], head: null });
  assert.is(verdict.problems[0]?.what, 'not an audit line (edited or damaged)');
  assert.is(verdict.problems[1]?.what, 'the last line is cut short');
});

test.run();
