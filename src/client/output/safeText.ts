import { concat } from '../../protocol/bytes.ts';

/*
 * Host-supplied strings (job commands, owners, reasons, error text) reach a terminal only through
 * these: a C0 or C1 control character or DEL could set the window title, move the cursor or forge
 * another line. They are shown escaped instead (\e, \n, \t, \xNN, \u{NNNN}).
 */

// C0 controls, DEL, C1 controls, and the Unicode line/paragraph separators and bidi overrides that
// reorder what a terminal shows.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\u001b': '\\e', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u0007': '\\a', '\b': '\\b' };

function escapeOne(c: string): string {
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

export function hasControl(text: string): boolean {
  CONTROL.lastIndex = 0;
  return CONTROL.test(text);
}

/** The text with every control character escaped (a backslash itself stays as it is). */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, escapeOne);
}

/** Length of the well-formed UTF-8 sequence starting at i (no overlong form, surrogate or value past U+10FFFF), or 0. */
function sequenceAt(bytes: Uint8Array, i: number): number {
  const b = bytes[i]!;
  const second = bytes[i + 1];
  if (second === undefined) return 0;
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) length = 2;
  else if (b >= 0xe0 && b <= 0xef) {
    length = 3;
    if (b === 0xe0) low = 0xa0;
    if (b === 0xed) high = 0x9f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    length = 4;
    if (b === 0xf0) low = 0x90;
    if (b === 0xf4) high = 0x8f;
  } else return 0;
  if (i + length > bytes.length || second < low || second > high) return 0;
  for (let k = 2; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return 0;
  return length;
}

/** Code points escaped besides C0, DEL and C1: separators, bidi marks, overrides and isolates. */
function isFormatControl(c: number): boolean {
  return c === 0x061c || c === 0x200e || c === 0x200f || c === 0x2028 || c === 0x2029 || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/**
 * At byte i: [length, control], control the code point to escape or null. Controls are those of
 * CONTROL, in UTF-8, plus any byte 0x80-0x9f that is not inside a well-formed sequence (a terminal
 * not in UTF-8 mode reads it as a C1 control); other bytes, invalid UTF-8 included, are plain.
 */
function scanAt(bytes: Uint8Array, i: number): [number, number | null] {
  const b = bytes[i]!;
  if (b < 0x80) return [1, (b < 0x20 && b !== 0x09 && b !== 0x0a) || b === 0x7f ? b : null];
  const length = sequenceAt(bytes, i);
  if (length === 0) return [1, b <= 0x9f ? b : null];
  if (length === 2) {
    const c = ((b & 0x1f) << 6) | (bytes[i + 1]! & 0x3f);
    return [2, (c >= 0x80 && c <= 0x9f) || isFormatControl(c) ? c : null];
  }
  if (length === 3) {
    const c = ((b & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f);
    return [3, isFormatControl(c) ? c : null];
  }
  return [length, null];
}

/**
 * Output bytes for a terminal: control characters escaped as escapeControl does, tabs and
 * newlines kept, every other byte passed as it is. Escape whole lines: a sequence cut in two
 * is not recognised. The common case, no control character, returns the input itself.
 */
export function escapeControlBytes(bytes: Uint8Array): Uint8Array {
  let i = 0;
  for (;;) {
    if (i >= bytes.length) return bytes;
    const [length, control] = scanAt(bytes, i);
    if (control !== null) break;
    i += length;
  }
  const text = new TextEncoder();
  const out: Uint8Array[] = [bytes.subarray(0, i)];
  let plainFrom = i;
  while (i < bytes.length) {
    const [length, control] = scanAt(bytes, i);
    if (control !== null) {
      out.push(bytes.subarray(plainFrom, i), text.encode(escapeOne(String.fromCodePoint(control))));
      plainFrom = i + length;
    }
    i += length;
  }
  out.push(bytes.subarray(plainFrom));
  return concat(out);
}
