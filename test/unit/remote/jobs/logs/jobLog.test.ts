import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JobLog } from '../../../../../src/remote/jobs/logs/jobLog.ts';
import { LogCursor } from '../../../../../src/remote/jobs/logs/logCursor.ts';
import { decodeLogHeader, encodeLogRecord, LOG_FILE } from '../../../../../src/remote/jobs/logs/logFormat.ts';
import { LineCounter, LogSelection } from '../../../../../src/remote/jobs/logs/logSelection.ts';
import { LogStream, type LogOutput, type LogSource } from '../../../../../src/remote/jobs/logs/logStream.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const both = new Set<1 | 2>([1, 2]);

function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'herd-log-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Everything a LogStream sends, with a switch to refuse output (a full connection). */
function collector(): LogOutput & { out: string[]; notes: string[]; stamps: number[]; ended: boolean; full: boolean } {
  const c = {
    out: [] as string[],
    notes: [] as string[],
    stamps: [] as number[],
    ended: false,
    full: false,
    at: (ms: number) => void c.stamps.push(ms),
    data: (channel: 1 | 2, bytes: Uint8Array) => {
      c.out.push(`${channel}:${new TextDecoder().decode(bytes)}`);
      return !c.full;
    },
    note: (t: string) => void c.notes.push(t),
    end: () => void (c.ended = true),
  };
  return c;
}

test('log records: header layout and round trip', () => {
  const record = encodeLogRecord(2, 1234.5, text('abc'));
  assert.is(record.length, 19);
  assert.equal([...record.subarray(0, 8)], [0, 0, 0, 3, 2, 0, 0, 0]);
  assert.equal(decodeLogHeader(record), { kind: 2, length: 3, atMs: 1234.5 });
  record[4] = 9;
  assert.throws(() => decodeLogHeader(record), /corrupt output log/);
});

test('a cursor reads records in bounded pieces and waits at a partial record', () => {
  const box = tempDir();
  try {
    const path = join(box.dir, LOG_FILE);
    const cursor = new LogCursor(path);
    assert.is(cursor.next(10), null, 'no file yet: nothing, no error');
    const record = encodeLogRecord(1, 1, text('hello world'));
    writeFileSync(path, record.subarray(0, 10));
    assert.is(cursor.next(4), null, 'half a header');
    appendFileSync(path, record.subarray(10, 21));
    const first = cursor.next(4)!;
    assert.is(new TextDecoder().decode(first.bytes), 'hell');
    assert.ok(first.first);
    const second = cursor.next(100)!;
    assert.is(new TextDecoder().decode(second.bytes), 'o', 'what has arrived of the payload');
    assert.not.ok(second.first);
    assert.is(cursor.next(100), null);
    appendFileSync(path, record.subarray(21));
    assert.is(new TextDecoder().decode(cursor.next(100)!.bytes), ' world');
    assert.is(cursor.next(100), null);
    cursor.close();
  } finally {
    box.remove();
  }
});

test('selection: channels, a byte offset, skipped lines; the line counter finds the last N', () => {
  const piece = (kind: 1 | 2, s: string) => ({ kind, atMs: 0, bytes: text(s), first: true });
  const fromByte = new LogSelection(both, { fromByte: 4 });
  assert.is(fromByte.take(piece(1, 'ab')), null);
  assert.is(new TextDecoder().decode(fromByte.take(piece(2, 'cdef'))!), 'ef', 'the offset counts both channels, in order');
  const stdoutOnly = new LogSelection(new Set([1]));
  assert.is(stdoutOnly.take(piece(2, 'err')), null);
  const counter = new LineCounter(both);
  for (const s of ['a\nb', '\nc\n', 'd']) counter.add(piece(1, s));
  assert.is(counter.linesBefore(2), 2, 'a b c d: the last two are c and d');
  assert.is(counter.linesBefore(10), 0);
  const lines = new LogSelection(both, { skipLines: 2 });
  assert.is(lines.take(piece(1, 'a\nb')), null);
  assert.is(new TextDecoder().decode(lines.take(piece(1, '\nc\n'))!), 'c\n');
});

test('a log stream sends the log, then follows what is appended, each byte once, until the job ends', async () => {
  const box = tempDir();
  try {
    const log = new JobLog(box.dir, 1000);
    log.write(1, text('one\n'));
    let finished = false;
    let changed: () => void = () => {};
    const source: LogSource = { finished: () => finished, watch: (fn) => ((changed = fn), () => {}) };
    const out = collector();
    const stream = new LogStream(join(box.dir, LOG_FILE), { channels: both, follow: true, timestamps: true }, source, out);
    stream.pump();
    assert.equal(out.out, ['1:one\n']);
    assert.is(out.stamps.length, 1);
    log.write(2, text('two\n'));
    changed();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(out.out, ['1:one\n', '2:two\n']);
    assert.not.ok(out.ended, 'a live job: keep following');
    // A full connection stops the reader; a drain (pump) carries on where it stopped.
    out.full = true;
    log.write(1, text('three\n'));
    log.write(1, text('four\n'));
    stream.pump();
    assert.equal(out.out.slice(2), ['1:three\n']);
    out.full = false;
    finished = true;
    log.close();
    stream.pump();
    assert.equal(out.out.slice(2), ['1:three\n', '1:four\n']);
    assert.ok(out.ended);
  } finally {
    box.remove();
  }
});

test('the cap keeps exactly the first maxBytes and leaves a note readers see', () => {
  const box = tempDir();
  try {
    const log = new JobLog(box.dir, 6);
    log.write(1, text('abcd'));
    log.write(2, text('efgh'));
    log.write(1, text('ijkl'));
    assert.is(log.bytes, 6);
    assert.match(log.stopped ?? '', /capped at 6 bytes/);
    log.close();
    const out = collector();
    new LogStream(join(box.dir, LOG_FILE), { channels: both, follow: false, timestamps: false }, { finished: () => true, watch: () => () => {} }, out).pump();
    assert.equal(out.out, ['1:abcd', '2:ef']);
    assert.is(out.notes.length, 1);
    assert.ok(out.ended);
    const tail = collector();
    new LogStream(join(box.dir, LOG_FILE), { channels: new Set([1]), follow: false, timestamps: false, tail: 0 }, { finished: () => true, watch: () => () => {} }, tail).pump();
    assert.equal(tail.out, []);
  } finally {
    box.remove();
  }
});

test.run();
