import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LineSplitter } from '../../../../src/client/audit/auditLines.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test('lines split across chunks arrive whole; a line without end is dropped once past the limit, and what follows is read', () => {
  const got: string[] = [];
  let tooLong = 0;
  const splitter = new LineSplitter({ line: (t) => got.push(t), tooLong: () => tooLong++ }, 16);
  for (const piece of ['ab', 'c\nde', 'f\n', 'x'.repeat(10), 'x'.repeat(10), 'x'.repeat(100), '\nafter\n', 'torn']) splitter.push(bytes(piece));
  assert.equal(got, ['abc', 'def', 'after']);
  assert.is(tooLong, 1);
  assert.is(splitter.end(), true, 'the torn end is reported, not passed on');
});

test.run();
