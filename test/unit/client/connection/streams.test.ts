import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HerdError } from '../../../../src/protocol/errors.ts';
import type { Message } from '../../../../src/protocol/messages.ts';
import { StreamRegistry, type StreamHandlers } from '../../../../src/client/connection/streams.ts';

const hostError = (m: Extract<Message, { t: 'error' }>): HerdError => new HerdError('JOB_FAILED', m.message);

function recorder(endAfter: number): { handlers: StreamHandlers; seen: string[]; ended: Array<string | null> } {
  const seen: string[] = [];
  const ended: Array<string | null> = [];
  return {
    seen,
    ended,
    handlers: {
      message: (m) => (seen.push(m.t) >= endAfter ? 'end' : 'more'),
      ended: (error) => void ended.push(error === null ? null : error.message),
    },
  };
}

test('streams are odd and never reused; the message that says end closes its stream once', () => {
  const closed: number[] = [];
  const streams = new StreamRegistry((s) => closed.push(s));
  const a = recorder(2);
  const b = recorder(1);
  assert.equal([streams.add(a.handlers), streams.add(b.handlers)], [1, 3]);
  streams.message(1, { t: 'jobs', jobs: [] }, hostError);
  assert.equal(closed, []);
  streams.message(1, { t: 'done' }, hostError);
  streams.message(1, { t: 'done' }, hostError);
  assert.equal(a.seen, ['jobs', 'done'], 'nothing reaches a stream after its end');
  assert.equal(a.ended, [null]);
  assert.equal(closed, [1]);
  assert.is(streams.get(1), undefined);
  assert.is(streams.add(a.handlers), 5);
});

test("the host's error ends a stream with that error; a lost connection ends every open one", () => {
  const closed: number[] = [];
  const streams = new StreamRegistry((s) => closed.push(s));
  const a = recorder(9);
  const b = recorder(9);
  const c = recorder(9);
  streams.add(a.handlers);
  streams.add(b.handlers);
  streams.add(c.handlers);
  streams.message(3, { t: 'error', code: 'JOB_NOT_FOUND', message: 'no job x' }, hostError);
  assert.equal(b.seen, [], 'the error is not handed to the handler as a message');
  assert.equal(b.ended, ['no job x']);
  streams.endAll(new HerdError('CONNECTION_LOST', 'gone'));
  assert.equal([a.ended, c.ended], [['gone'], ['gone']]);
  assert.equal(closed, [3]);
  streams.endAll(new HerdError('CONNECTION_LOST', 'again'));
  assert.equal(a.ended, ['gone'], 'ended once');
});

test('a handler that throws leaves the stream open for the connection to fail', () => {
  const streams = new StreamRegistry(() => {});
  const stream = streams.add({
    message: () => {
      throw new HerdError('PROTOCOL', 'unexpected');
    },
    ended: () => {},
  });
  assert.throws(() => streams.message(stream, { t: 'done' }, hostError), /unexpected/);
});

test.run();
