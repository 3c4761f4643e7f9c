/*
 * The two readers Ansible's INI inventory leans on, as Python has them: shlex.split(line,
 * comments=True) for a host line, and ast.literal_eval for each value (`port=22` is the number 22,
 * `x="a b"` the text a b, anything it cannot read stays text). No I/O here.
 */

/** POSIX shlex: whitespace between words, '…' literal, "…" with \" and \\, \ outside quotes, # outside quotes ends the line. */
export function shlexSplit(line: string): string[] | null {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '' | "'" | '"' = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = '';
      else word += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = '';
      else if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) word += line[++i];
      else word += c;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    if (c === '#') break;
    inWord = true;
    if (c === "'" || c === '"') quote = c;
    else if (c === '\\') {
      if (i + 1 >= line.length) return null;
      word += line[++i];
    } else word += c;
  }
  if (quote !== '') return null;
  if (inWord) words.push(word);
  return words;
}

export type PythonValue = string | number | boolean | null | PythonValue[] | { [key: string]: PythonValue };

/** A Python literal's value, or the text itself where literal_eval would refuse it. */
export function literalOrText(text: string): PythonValue {
  const value = new LiteralReader(text).whole();
  return value === undefined ? text : value;
}

const NOT_A_LITERAL = Symbol('not a literal');

class LiteralReader {
  private at = 0;

  constructor(private readonly text: string) {}

  whole(): PythonValue | undefined {
    try {
      this.space();
      const value = this.value();
      this.space();
      if (this.at !== this.text.length) return undefined;
      return value;
    } catch (err) {
      if (err === NOT_A_LITERAL) return undefined;
      throw err;
    }
  }

  private fail(): never {
    throw NOT_A_LITERAL;
  }

  /** Whitespace and comments, as the Python tokenizer skips them (line continuation left out). */
  private space(): void {
    for (;;) {
      const c = this.text[this.at];
      if (c === ' ' || c === '\t' || c === '\f') this.at++;
      else if (c === '#') this.at = this.text.length;
      else return;
    }
  }

  private value(): PythonValue {
    const c = this.text[this.at];
    if (c === undefined) this.fail();
    if (c === '[' || c === '(') return this.sequence(c === '[' ? ']' : ')');
    if (c === '{') return this.mapping();
    if (c === '-' || c === '+') {
      this.at++;
      this.space();
      const n = this.value();
      if (typeof n !== 'number') this.fail();
      return c === '-' ? -n : n;
    }
    if (/[0-9.]/.test(c)) return this.number();
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.at))?.[0];
    if (word !== undefined) {
      const prefix = word.toLowerCase();
      const next = this.text[this.at + word.length];
      if ((next === '"' || next === "'") && /^(r|u|b|br|rb)$/.test(prefix)) return this.strings();
      this.at += word.length;
      if (word === 'True') return true;
      if (word === 'False') return false;
      if (word === 'None') return null;
      this.fail();
    }
    if (c === '"' || c === "'") return this.strings();
    this.fail();
  }

  private number(): number {
    const rest = this.text.slice(this.at);
    const forms = [/^0[xX](?:_?[0-9a-fA-F])+/, /^0[oO](?:_?[0-7])+/, /^0[bB](?:_?[01])+/, /^(?:\d(?:_?\d)*)?\.?(?:\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?/];
    for (const form of forms) {
      const m = form.exec(rest);
      if (m === null || m[0] === '' || m[0] === '.') continue;
      const text = m[0].replace(/_/g, '');
      this.at += m[0].length;
      if (/^0[xob]/i.test(text)) return Number(text.toLowerCase());
      // Python refuses 007 (a leading zero on a decimal int other than 0).
      if (/^0\d/.test(text) && !/[.eE]/.test(text) && !/^0+$/.test(text)) this.fail();
      if (/[jJ]/.test(this.text[this.at] ?? '')) this.fail();
      return Number(text);
    }
    this.fail();
  }

  /** One or more adjacent string literals, joined (Python concatenates "a" "b"). */
  private strings(): string {
    let out = '';
    let any = false;
    for (;;) {
      const m = /^([rRuUbB]{0,2})('''|"""|'|")/.exec(this.text.slice(this.at));
      if (m === null) break;
      any = true;
      const raw = /r/i.test(m[1]!);
      const delim = m[2]!;
      this.at += m[0].length;
      for (;;) {
        if (this.at >= this.text.length) this.fail();
        if (this.text.startsWith(delim, this.at)) {
          this.at += delim.length;
          break;
        }
        const c = this.text[this.at]!;
        if (c === '\\' && !raw) {
          const e = this.text[this.at + 1];
          const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };
          if (e !== undefined && simple[e] !== undefined) {
            out += simple[e];
            this.at += 2;
            continue;
          }
          out += c;
          this.at++;
          continue;
        }
        if (delim.length === 1 && c === '\n') this.fail();
        out += c;
        this.at++;
      }
      this.space();
    }
    if (!any) this.fail();
    return out;
  }

  private sequence(close: string): PythonValue[] {
    this.at++;
    const items: PythonValue[] = [];
    this.space();
    while (this.text[this.at] !== close) {
      items.push(this.value());
      this.space();
      if (this.text[this.at] === ',') {
        this.at++;
        this.space();
      } else if (this.text[this.at] !== close) this.fail();
    }
    this.at++;
    return items;
  }

  private mapping(): { [key: string]: PythonValue } {
    this.at++;
    const out: { [key: string]: PythonValue } = {};
    this.space();
    while (this.text[this.at] !== '}') {
      const key = this.value();
      this.space();
      if (this.text[this.at] !== ':') this.fail();
      this.at++;
      this.space();
      out[String(key)] = this.value();
      this.space();
      if (this.text[this.at] === ',') {
        this.at++;
        this.space();
      } else if (this.text[this.at] !== '}') this.fail();
    }
    this.at++;
    return out;
  }
}
