import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeFrame, FrameType } from '../../../src/protocol/frame.ts';
import { INITIAL_WINDOW, MAX_MESSAGE_BYTES, MAX_STREAM_CREDIT, MAX_STREAMS } from '../../../src/protocol/limits.ts';
import { Session } from '../../../src/protocol/session.ts';
import type { RunRequest } from '../../../src/protocol/messages.ts';
import { Channel } from '../../../src/protocol/session.ts';
import { pair } from '../helpers/pair.ts';

const run: RunRequest = { t: 'run', argv: ['true'], env: {} };

test('a message opens a stream on the peer; data and eof arrive in order', () => {
  const { a, b, rb } = pair();
  a.open(1);
  a.sendMessage(1, run);
  assert.ok(b.hasStream(1));
  a.write(1, Channel.Stdin, new Uint8Array(10));
  a.end(1, Channel.Stdin);
  assert.equal(rb.order, ['msg:run', 'data:10', 'eof:0']);
});

test('a sender stops at the window and resumes only when the reader consumes', () => {
  const { a, b, rb } = pair();
  a.open(1);
  a.sendMessage(1, run);
  const total = INITIAL_WINDOW * 3;
  const ok = a.write(1, Channel.Stdout, new Uint8Array(total));
  assert.is(ok, false, 'write asks the caller to wait');
  const received = () => rb.data.reduce((n, [, , d]) => n + d.length, 0);
  assert.is(received(), INITIAL_WINDOW);
  assert.is(a.queued(1), total - INITIAL_WINDOW);
  // The reader consumes less than a quarter window: no credit yet.
  b.consumed(1, INITIAL_WINDOW / 8);
  assert.is(received(), INITIAL_WINDOW);
  b.consumed(1, INITIAL_WINDOW / 8);
  assert.is(received(), INITIAL_WINDOW + INITIAL_WINDOW / 4);
  // Consuming what arrives returns it as credit, which brings the rest.
  let taken = INITIAL_WINDOW / 4;
  while (taken < received()) {
    const fresh = received() - taken;
    taken += fresh;
    b.consumed(1, fresh);
  }
  assert.is(received(), total);
  assert.is(a.queued(1), 0);
});

test('a message sent on a stream does not overtake its queued data', () => {
  const { a, b, rb } = pair();
  b.open(5);
  b.sendMessage(5, run);
  a.write(5, Channel.Stdout, new Uint8Array(INITIAL_WINDOW + 10));
  a.sendMessage(5, { t: 'started', jobId: 'x' });
  a.close(5);
  assert.equal(rb.order.slice(-1), ['data:65536']);
  b.consumed(5, INITIAL_WINDOW);
  assert.equal(rb.order.slice(-2), ['data:10', 'msg:started']);
  assert.not.ok(a.hasStream(5), 'the stream is forgotten once its queue is sent');
});

test('data beyond the granted credit is a fatal FLOW_CONTROL error on both sides', () => {
  const { a, ra, rb } = pair();
  a.open(1);
  a.sendMessage(1, run);
  a.write(1, Channel.Stdin, new Uint8Array(INITIAL_WINDOW));
  // Bypass a's own accounting: put more data straight on the wire with no credit left.
  const wire = (a as unknown as { events: { send(x: Uint8Array): void } }).events;
  wire.send(encodeFrame(FrameType.Data, 1, Uint8Array.of(Channel.Stdin, 1, 2, 3)));
  assert.is(rb.closed?.code, 'FLOW_CONTROL');
  assert.is(ra.closed?.code, 'FLOW_CONTROL', 'the peer hears the error frame');
});

test('a peer may not open more than MAX_STREAMS streams', () => {
  const { a, rb } = pair();
  for (let i = 1; i <= MAX_STREAMS + 1; i++) {
    a.open(i * 2 - 1);
    a.sendMessage(i * 2 - 1, run);
  }
  assert.is(rb.closed?.code, 'LIMIT');
});

test('a message over MAX_MESSAGE_BYTES from the peer closes the session with LIMIT, before it is parsed', () => {
  const { a, rb } = pair();
  const send = (a as unknown as { events: { send(x: Uint8Array): void } }).events.send;
  // A valid run request padded with a field no validator looks at: it was taken, and audited, whole.
  const padded = JSON.stringify({ ...run, junk: 'x'.repeat(MAX_MESSAGE_BYTES) });
  send(encodeFrame(FrameType.Message, 1, new TextEncoder().encode(padded)));
  assert.is(rb.closed?.code, 'LIMIT');
  assert.is(rb.order.length, 0, 'nothing reached the receiver');
});

test('malformed JSON and invalid messages close the session with PROTOCOL', () => {
  const { a, rb } = pair();
  const send = (a as unknown as { events: { send(x: Uint8Array): void } }).events.send;
  send(encodeFrame(FrameType.Message, 0, new TextEncoder().encode('{"t":"run","argv":"not a list"}')));
  assert.is(rb.closed?.code, 'PROTOCOL');
});

test('ping is answered with pong; after close nothing more is sent', () => {
  const { a, b, ra } = pair();
  const before = b.framesReceived;
  a.ping();
  assert.is(b.framesReceived, before + 1);
  assert.is(a.framesReceived, 1, 'pong came back');
  a.shutdown();
  assert.is(ra.closed, null);
  a.ping();
  assert.is(b.framesReceived, before + 1);
});

test('credit beyond MAX_STREAM_CREDIT is a fatal FLOW_CONTROL error', () => {
  const { a, b, ra } = pair();
  a.open(1);
  a.sendMessage(1, run);
  const credit = new Uint8Array(4);
  new DataView(credit.buffer).setUint32(0, MAX_STREAM_CREDIT);
  a.receive(encodeFrame(FrameType.Credit, 1, credit));
  assert.is(ra.closed?.code, 'FLOW_CONTROL');
  assert.ok(b.isClosed, 'the peer hears of it');
});

test('a transport that cannot take more holds stream data in the queue until resumeSending', () => {
  const sent: Uint8Array[] = [];
  let room = false;
  const session = new Session({ send: (bytes) => void sent.push(bytes), message: () => {}, data: () => {}, eof: () => {}, closed: () => {}, canSend: () => room });
  session.open(1);
  session.sendMessage(1, run);
  assert.is(session.write(1, Channel.Stdout, new Uint8Array(100_000)), true);
  assert.is(sent.length, 1, 'the message went; no data');
  assert.is(session.queued(1), 100_000);
  room = true;
  session.resumeSending();
  assert.is(session.queued(1), 0);
  assert.is(sent.length, 1 + 2 * 2, 'two chunks, header and data each');
});

test('a ping larger than maxPingBytes is a protocol error; one within it is answered', () => {
  const sent: Uint8Array[] = [];
  let closed: string | undefined;
  const session = new Session({ send: (bytes) => void sent.push(bytes), message: () => {}, data: () => {}, eof: () => {}, closed: (e) => (closed = e?.code) });
  session.maxPingBytes = 64;
  session.receive(encodeFrame(FrameType.Ping, 0, new Uint8Array(64)));
  assert.is(sent.length, 1, 'pong');
  session.receive(encodeFrame(FrameType.Ping, 0, new Uint8Array(65)));
  assert.is(closed, 'PROTOCOL');
});

test('pings beyond pingBudget are a protocol error; a backed-up transport gets no pongs', () => {
  const sent: Uint8Array[] = [];
  let closed: string | undefined;
  let room = true;
  const session = new Session({ send: (bytes) => void sent.push(bytes), message: () => {}, data: () => {}, eof: () => {}, closed: (e) => (closed = e?.code), canSend: () => room });
  session.pingBudget = 3;
  session.receive(encodeFrame(FrameType.Ping, 0));
  room = false;
  session.receive(encodeFrame(FrameType.Ping, 0));
  assert.is(sent.length, 1, 'the second pong is dropped: its peer is not reading');
  session.receive(encodeFrame(FrameType.Ping, 0));
  assert.is(closed, undefined);
  session.receive(encodeFrame(FrameType.Ping, 0));
  assert.is(closed, 'PROTOCOL');
});

test.run();
