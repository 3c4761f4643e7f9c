import { HerdError } from '../../protocol/errors.ts';

export { foldNodeset } from './nodesetFold.ts';

/** The most names one expression may stand for: a typo like [1-99999999] fails instead of eating memory. */
export const MAX_NODES = 100_000;

/** Where `@name` groups come from: the config's groups, then an inventory's. */
export type GroupLookup = (name: string) => readonly string[] | undefined;

/** The names `*` and `?` patterns are matched against (Ansible's `web*`): hosts and groups known to the config and inventory. */
export interface KnownNames {
  hosts(): readonly string[];
  groups(): readonly string[];
}

const NO_NAMES: KnownNames = { hosts: () => [], groups: () => [] };

const isGlob = (term: string): boolean => /[*?]/.test(term);

function globRegex(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|\\[\]]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/** ClusterShell's operators, all of one precedence, applied left to right: union, difference, intersection, symmetric difference. */
const OPERATORS = [',', '!', '&', '^'] as const;
type Operator = (typeof OPERATORS)[number];

function invalid(expression: string, what: string): HerdError {
  return new HerdError('INVALID_SPEC', `nodeset "${expression}": ${what}`, { hint: 'ClusterShell\'s notation: web[01-20], n[1-9/2], a,b, a!b, a&b, a^b, @group' });
}

/** The expression as operands and the operators between them, split outside brackets. */
function tokens(expression: string): { operands: string[]; operators: Operator[] } {
  const operands: string[] = [];
  const operators: Operator[] = [];
  let depth = 0;
  let current = '';
  for (const ch of expression) {
    if (ch === '[') {
      if (depth > 0) throw invalid(expression, 'a "[" inside brackets');
      depth++;
    } else if (ch === ']') {
      if (depth === 0) throw invalid(expression, 'a "]" without its "["');
      depth--;
    }
    if (depth === 0 && (OPERATORS as readonly string[]).includes(ch)) {
      operands.push(current.trim());
      operators.push(ch as Operator);
      current = '';
    } else current += ch;
  }
  if (depth !== 0) throw invalid(expression, 'a "[" without its "]"');
  operands.push(current.trim());
  operators.forEach((op, i) => {
    if (operands[i] === '' || operands[i + 1] === '') throw invalid(expression, `the "${op}" operator needs a nodeset on each side`);
  });
  return { operands, operators };
}

/** One number of a range as written: its value, and its width when zero-padded (0: not padded). */
function parseNumber(text: string, expression: string, item: string): { value: bigint; width: number } {
  if (!/^\d+$/.test(text)) throw invalid(expression, `"[${item}]": "${text}" is not a number`);
  return { value: BigInt(text), width: text.length > 1 && text.startsWith('0') ? text.length : 0 };
}

/** `01-20,25,1-9/2` → the numbers as text, zero-padded to the width written. */
function expandRange(inside: string, expression: string): string[] {
  if (inside.trim() === '') throw invalid(expression, '"[]" is an empty range');
  const out: string[] = [];
  for (const raw of inside.split(',')) {
    const item = raw.trim();
    const match = /^([^-/]+)(?:-([^-/]+)(?:\/([^-/]+))?)?$/.exec(item);
    if (match === null) throw invalid(expression, `"[${item}]" is not a range like [1-5], [01-20], [1-9/2] or [1,3,7-9]`);
    const from = parseNumber(match[1]!, expression, item);
    const to = match[2] === undefined ? from : parseNumber(match[2], expression, item);
    const step = match[3] === undefined ? 1n : parseNumber(match[3], expression, item).value;
    // As ClusterShell: both ends as wide as each other when either is padded (01-10, not 01-100 or 1-010).
    if ((from.width > 0 || to.width > 0) && match[1]!.length !== (match[2] ?? match[1]!).length) {
      throw invalid(expression, `"[${item}]": the ends are padded differently (write both with the same number of digits)`);
    }
    if (to.value < from.value) throw invalid(expression, `"[${item}]" runs backwards`);
    if (step < 1n) throw invalid(expression, `"[${item}]": a step must be at least 1`);
    const count = (to.value - from.value) / step + 1n;
    if (BigInt(out.length) + count > BigInt(MAX_NODES)) throw invalid(expression, `stands for more than ${MAX_NODES} hosts`);
    const width = match[1]!.length > 1 && match[1]!.startsWith('0') ? match[1]!.length : 0;
    for (let n = from.value; n <= to.value; n += step) out.push(n.toString().padStart(width, '0'));
  }
  return out;
}

/** One pattern: `rack[1-2]-node[01-03]` → every combination, in order. */
function expandPattern(term: string, expression: string): string[] {
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
    if (names.length * values.length > MAX_NODES) throw invalid(expression, `stands for more than ${MAX_NODES} hosts`);
    names = names.flatMap((n) => values.map((v) => n + prefix + v));
    rest = rest.slice(close + 1);
  }
  return names;
}

/** An ordered set of names, with ClusterShell's four operations. */
class Names {
  private readonly set = new Set<string>();

  constructor(private readonly expression: string) {}

  add(names: Iterable<string>): void {
    for (const name of names) {
      this.set.add(name);
      if (this.set.size > MAX_NODES) throw invalid(this.expression, `stands for more than ${MAX_NODES} hosts`);
    }
  }

  apply(op: Operator, right: readonly string[]): void {
    if (op === ',') return this.add(right);
    const other = new Set(right);
    if (op === '!') {
      for (const n of other) this.set.delete(n);
    } else if (op === '&') {
      for (const n of [...this.set]) if (!other.has(n)) this.set.delete(n);
    } else {
      const both = new Set([...other].filter((n) => this.set.has(n)));
      for (const n of both) this.set.delete(n);
      this.add([...other].filter((n) => !both.has(n)));
    }
  }

  list(): string[] {
    return [...this.set];
  }
}

/**
 * Expands a nodeset expression (ClusterShell's notation) into host names, in order and without
 * repeats: `web[01-20]`, `n[1-9/2]`, `web[1-3,7],db1`, `@group` (from `groups`, which may name
 * other groups), and the operators `,` `!` `&` `^` (union, difference, intersection, symmetric
 * difference), applied left to right. Names that are not nodesets (`local`, `user@host:port`)
 * pass through as they are.
 */
export function expandNodeset(expression: string, groups: GroupLookup = () => undefined, known: KnownNames = NO_NAMES): string[] {
  /** `web*`: the known hosts it matches and the members of the known groups it matches; `@web*`: groups only. */
  const globbed = (operand: string, path: readonly string[]): string[] => {
    const groupsOnly = operand.startsWith('@');
    const regex = globRegex(groupsOnly ? operand.slice(1) : operand);
    const names = new Names(expression);
    if (!groupsOnly) names.add(known.hosts().filter((h) => regex.test(h)));
    for (const g of known.groups()) if (regex.test(g)) names.add(group(g, path));
    if (names.list().length === 0) {
      throw new HerdError('INVALID_SPEC', `"${operand}" matches no host or group`, { hint: 'patterns match the names of the config\'s hosts and groups and the inventory\'s; herd hosts lists them' });
    }
    return names.list();
  };
  const evaluate = (expr: string, path: readonly string[]): string[] => {
    const { operands, operators } = tokens(expr);
    if (operands.length === 1 && operands[0] === '') return [];
    const result = new Names(expression);
    operands.forEach((operand, i) => {
      const names = isGlob(operand) ? globbed(operand, path) : operand.startsWith('@') ? group(operand.slice(1), path) : expandPattern(operand, expression);
      if (i === 0) result.add(names);
      else result.apply(operators[i - 1]!, names);
    });
    return result.list();
  };
  const group = (name: string, path: readonly string[]): string[] => {
    if (path.includes(name)) throw new HerdError('INVALID_SPEC', `group @${name} contains itself (${[...path, name].map((g) => `@${g}`).join(' → ')})`);
    const members = groups(name);
    if (members === undefined) throw new HerdError('INVALID_SPEC', `no group @${name}`, { hint: 'groups come from the config (groups:) or an inventory (-i FILE); herd hosts lists them' });
    const names = new Names(expression);
    for (const member of members) names.add(evaluate(member, [...path, name]));
    return names.list();
  };
  return evaluate(expression, []);
}

/** `-x`: the names of `expression` that `exclude` (itself a nodeset, operators and all) does not name. */
export function excludeNodes(names: readonly string[], exclude: string | undefined, groups: GroupLookup, known: KnownNames = NO_NAMES): string[] {
  if (exclude === undefined || exclude.trim() === '') return [...names];
  const gone = new Set(expandNodeset(exclude, groups, known));
  return names.filter((n) => !gone.has(n));
}
