import { EventEmitter } from 'node:events';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { HerdError } from '../../../src/protocol/errors.ts';
import { wireSession } from '../../../src/shared/wiredSession.ts';

function fakeTransport() {
  const readable = new EventEmitter();
  const writes: Uint8Array[] = [];
  let ended = false;
  const writable = {
    write: (chunk: Uint8Array) => (writes.push(chunk), true),
    end: () => {
      ended = true;
    },
  };
  return { readable, writable, writes, ended: () => ended };
}

const noop = { message: () => {}, data: () => {}, eof: () => {} };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a silent peer is declared lost after the heartbeat timeout', async () => {
  const t = fakeTransport();
  let closed: HerdError | null | undefined;
  wireSession(t.readable, t.writable, { ...noop, closed: (e) => (closed = e) }, { intervalMs: 10, timeoutMs: 40 });
  await sleep(120);
  assert.is(closed?.code, 'CONNECTION_LOST');
  assert.ok(t.ended(), 'the transport is closed');
});

test('a peer that keeps sending frames stays connected', async () => {
  const t = fakeTransport();
  let closed: HerdError | null | undefined;
  const session = wireSession(t.readable, t.writable, { ...noop, closed: (e) => (closed = e) }, { intervalMs: 10, timeoutMs: 40 });
  // Answer every ping we see with a pong frame (type 7).
  const pong = Uint8Array.of(0, 0, 0, 0, 7, 0, 0, 0, 0);
  const timer = setInterval(() => t.readable.emit('data', pong), 10);
  await sleep(150);
  clearInterval(timer);
  assert.is(closed, undefined);
  session.shutdown();
});

test('frames sent in one tick leave in one write', async () => {
  const t = fakeTransport();
  const session = wireSession(t.readable, t.writable, { ...noop, closed: () => {} }, { intervalMs: 60_000, timeoutMs: 120_000 });
  session.ping();
  session.ping();
  session.sendMessage(0, { t: 'error', code: 'X', message: 'y' });
  assert.is(t.writes.length, 0, 'nothing is written synchronously');
  await sleep(5);
  assert.is(t.writes.length, 1);
  assert.ok(t.writes[0]!.length > 18, 'all three frames are in it');
  session.shutdown();
});

test('the end of the transport ends the session with CONNECTION_LOST', () => {
  const t = fakeTransport();
  let closed: HerdError | null | undefined;
  wireSession(t.readable, t.writable, { ...noop, closed: (e) => (closed = e) });
  t.readable.emit('end');
  assert.is(closed?.code, 'CONNECTION_LOST');
});

test.run();
