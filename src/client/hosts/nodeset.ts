import { HerdError } from '../../protocol/errors.ts';

/** The most names one expression may stand for: a typo like [1-99999999] fails instead of eating memory. */
export const MAX_NODES = 100_000;

/** Where `@name` groups come from: the config's groups, then an inventory's. */
export type GroupLookup = (name: string) => readonly string[] | undefined;

/**
 * Splits at the commas that are not inside brackets: `web[1-3,7],db1` is two terms.
 */
function splitTerms(expression: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of expression) {
    if (ch === '[') depth++;
    else if (ch === ']') depth--;
    if (depth < 0) throw new HerdError('INVALID_SPEC', `nodeset "${expression}": a "]" without its "["`);
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else current += ch;
  }
  if (depth !== 0) throw new HerdError('INVALID_SPEC', `nodeset "${expression}": a "[" without its "]"`);
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

/** `01-20,25` → the numbers as text, zero-padded to the width written. */
function expandRange(inside: string, expression: string): string[] {
  const out: string[] = [];
  for (const part of inside.split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (match === null) throw new HerdError('INVALID_SPEC', `nodeset "${expression}": "[${inside}]" is not a range like [1-5], [01-20] or [1,3,7-9]`);
    const [from, to] = [match[1]!, match[2] ?? match[1]!];
    const width = from.length > 1 && from.startsWith('0') ? from.length : 0;
    const [a, b] = [Number(from), Number(to)];
    if (b < a) throw new HerdError('INVALID_SPEC', `nodeset "${expression}": the range ${part} runs backwards`);
    if (out.length + (b - a + 1) > MAX_NODES) throw new HerdError('INVALID_SPEC', `nodeset "${expression}" stands for more than ${MAX_NODES} hosts`);
    for (let n = a; n <= b; n++) out.push(String(n).padStart(width, '0'));
  }
  return out;
}

/** One term without groups: `rack[1-2]-node[01-03]` → every combination, in order. */
function expandTerm(term: string, expression: string): string[] {
  let names = [''];
  let rest = term;
  while (rest !== '') {
    const open = rest.indexOf('[');
    if (open < 0) {
      names = names.map((n) => n + rest);
      break;
    }
    const close = rest.indexOf(']', open);
    const prefix = rest.slice(0, open);
    const values = expandRange(rest.slice(open + 1, close), expression);
    if (names.length * values.length > MAX_NODES) throw new HerdError('INVALID_SPEC', `nodeset "${expression}" stands for more than ${MAX_NODES} hosts`);
    names = names.flatMap((n) => values.map((v) => n + prefix + v));
    rest = rest.slice(close + 1);
  }
  return names;
}

/**
 * Expands a nodeset expression (ClusterShell's notation) into host names, in order and without
 * repeats: `web[01-20]`, `web[1-3,7],db1`, `@group` (from `groups`, which may name other groups).
 * Names that are not nodesets (`local`, `user@host:port`) pass through as they are.
 */
export function expandNodeset(expression: string, groups: GroupLookup = () => undefined): string[] {
  const seen = new Set<string>();
  const visit = (expr: string, path: readonly string[]): void => {
    for (const term of splitTerms(expr)) {
      if (term.startsWith('@')) {
        const name = term.slice(1);
        if (path.includes(name)) throw new HerdError('INVALID_SPEC', `group @${name} contains itself (${[...path, name].map((g) => `@${g}`).join(' → ')})`);
        const members = groups(name);
        if (members === undefined) throw new HerdError('INVALID_SPEC', `no group @${name}`, { hint: 'groups come from the config (groups:) or an inventory (-i FILE); herd hosts lists them' });
        for (const member of members) visit(member, [...path, name]);
        continue;
      }
      for (const name of expandTerm(term, expression)) {
        seen.add(name);
        if (seen.size > MAX_NODES) throw new HerdError('INVALID_SPEC', `nodeset "${expression}" stands for more than ${MAX_NODES} hosts`);
      }
    }
  };
  visit(expression, []);
  return [...seen];
}

/** `-x`: the names of `expression` that `exclude` does not name. */
export function excludeNodes(names: readonly string[], exclude: string | undefined, groups: GroupLookup): string[] {
  if (exclude === undefined || exclude.trim() === '') return [...names];
  const gone = new Set(expandNodeset(exclude, groups));
  return names.filter((n) => !gone.has(n));
}

/** Numbers written with a leading zero keep their width: 07 folds with 08-12, not with 7. */
function padWidth(digits: string): number {
  return digits.length > 1 && digits.startsWith('0') ? digits.length : 0;
}

/** Sorted numbers of one width as ranges: 1,2,3,7 → "1-3,7"; 01,02 (width 2) → "01-02". */
function ranges(numbers: readonly number[], width: number): string {
  const write = (n: number): string => String(n).padStart(width, '0');
  const parts: string[] = [];
  for (let i = 0; i < numbers.length; ) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    parts.push(i === j ? write(numbers[i]!) : `${write(numbers[i]!)}-${write(numbers[j]!)}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * The shortest nodeset notation for a list of names, as ClusterShell prints it: `web01,web02,web03,db1`
 * → `db1,web[01-03]`. Names are folded on their last number; expandNodeset gives the same names back.
 */
export function foldNodeset(names: readonly string[]): string {
  const plain = new Set<string>();
  // prefix, suffix and pad width → the numbers
  const groups = new Map<string, { prefix: string; suffix: string; width: number; numbers: Set<number> }>();
  for (const name of new Set(names)) {
    const match = /^(.*?)(\d+)(\D*)$/.exec(name);
    if (match === null || /[[\],@]/.test(name) || match[2]!.length > 15) {
      plain.add(name);
      continue;
    }
    const [, prefix, digits, suffix] = match as unknown as [string, string, string, string];
    const width = padWidth(digits);
    const key = JSON.stringify([prefix, suffix, width]);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { prefix, suffix, width, numbers: new Set() }));
    group.numbers.add(Number(digits));
  }
  // An unpadded number as wide as a padded group's (10 beside 01-09) joins that group.
  for (const group of groups.values()) {
    if (group.width === 0) continue;
    const unpadded = groups.get(JSON.stringify([group.prefix, group.suffix, 0]));
    if (unpadded === undefined) continue;
    for (const n of [...unpadded.numbers]) {
      if (String(n).length === group.width) {
        group.numbers.add(n);
        unpadded.numbers.delete(n);
      }
    }
  }
  const terms: Array<{ sortKey: string; text: string }> = [...plain].map((name) => ({ sortKey: name, text: name }));
  for (const { prefix, suffix, width, numbers } of groups.values()) {
    if (numbers.size === 0) continue;
    const sorted = [...numbers].sort((a, b) => a - b);
    const text = sorted.length === 1 ? `${prefix}${String(sorted[0]).padStart(width, '0')}${suffix}` : `${prefix}[${ranges(sorted, width)}]${suffix}`;
    terms.push({ sortKey: `${prefix}\0${suffix}`, text });
  }
  return terms
    .sort((a, b) => a.sortKey.localeCompare(b.sortKey) || a.text.localeCompare(b.text))
    .map((t) => t.text)
    .join(',');
}
