import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { escapeControlBytes } from '../../../../src/client/output/safeText.ts';

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

test.run();
