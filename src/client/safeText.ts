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
