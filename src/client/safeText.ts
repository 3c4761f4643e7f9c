import { concat } from '../protocol/bytes.ts';

/*
 * Host-supplied strings (job commands, owners, reasons, error text) reach a terminal only through
 * these: a C0 or C1 control character or DEL could set the window title, move the cursor or forge
 * another line. They are shown escaped instead (\e, \n, \t, \xNN, \u{NNNN}).
 */

// C0 controls, DEL, C1 controls, and the Unicode line/paragraph separators and bidi overrides that
// reorder what a terminal shows.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

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

const HEX = '0123456789abcdef';

/** Length of the well-formed UTF-8 sequence starting at i, or 0 if none starts there. */
function sequenceAt(bytes: Uint8Array, i: number): number {
  const b = bytes[i]!;
  const length = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
  if (length === 0 || i + length > bytes.length) return 0;
  for (let k = 1; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return 0;
  return length;
}

/**
 * At byte i: [length, control]. Controls are those of CONTROL, in UTF-8, plus any byte 0x80-0x9f
 * that is not inside a well-formed sequence (a terminal not in UTF-8 mode reads it as a C1
 * control); other bytes, invalid UTF-8 included, are plain.
 */
function scanAt(bytes: Uint8Array, i: number): [number, boolean] {
  const b = bytes[i]!;
  if (b < 0x80) return [1, (b < 0x20 && b !== 0x09 && b !== 0x0a) || b === 0x7f];
  const length = sequenceAt(bytes, i);
  if (length === 0) return [1, b <= 0x9f];
  if (length === 2) return [2, b === 0xc2 && bytes[i + 1]! <= 0x9f];
  if (length === 3 && b === 0xe2) {
    const c = (((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f)) + 0x2000;
    return [3, c === 0x2028 || c === 0x2029 || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)];
  }
  return [length, false];
}

function hexByte(b: number): string {
  return `\\x${HEX[b >> 4]}${HEX[b & 15]}`;
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
    if (control) break;
    i += length;
  }
  const text = new TextEncoder();
  const out: Uint8Array[] = [bytes.subarray(0, i)];
  let plainFrom = i;
  while (i < bytes.length) {
    const [length, control] = scanAt(bytes, i);
    if (control) {
      out.push(bytes.subarray(plainFrom, i));
      const b = bytes[i]!;
      let escaped: string;
      if (length === 1) escaped = b < 0x80 ? (NAMED[String.fromCharCode(b)] ?? hexByte(b)) : hexByte(b);
      else if (length === 2) escaped = hexByte(bytes[i + 1]!);
      else escaped = `\\u{${((((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f)) + 0x2000).toString(16)}}`;
      out.push(text.encode(escaped));
      plainFrom = i + length;
    }
    i += length;
  }
  out.push(bytes.subarray(plainFrom));
  return concat(out);
}
