import { HerdError } from '../../../protocol/errors.ts';

/*
 * How Ansible reads a host entry of an inventory (ansible/parsing/utils/addresses.py and the
 * inventory plugins' _expand_hostpattern): an optional port (`host:22`, `[2001:db8::1]:22`), then
 * ranges expanded (`web[01:20]`, `db-[a:c]`, `n[1:10:2]`, `z[:2]`). No I/O here.
 */

const NUMERIC_RANGE = String.raw`\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const HEX_RANGE = String.raw`\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`;
const ALNUM_RANGE = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const IPV6_PART = String.raw`(?:[0-9a-f]{1,4}|${HEX_RANGE})`;
const IPV4_PART = String.raw`(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${NUMERIC_RANGE})`;
// Python's \w is Unicode-aware in str patterns: letters, digits and underscore of any script.
const WORD = String.raw`[\p{L}\p{N}_]`;
const LABEL = String.raw`(?:${WORD}|${ALNUM_RANGE})(?:${WORD}|[_-]|${ALNUM_RANGE})*(?<![_-])`;

const I6 = IPV6_PART;
const I4 = IPV4_PART;
const PATTERNS = {
  bracketedHostPort: /^\[(.+)\]:([0-9]+)$/s,
  hostPort: /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/s,
  ipv4: new RegExp(`^(?:${I4}\\.){3}${I4}$`, 'i'),
  ipv6: new RegExp(
    `^(?:(?:${I6}:){7}${I6}|(?:${I6}:){1,6}:|(?:${I6}:)(?::${I6}){1,6}|(?:${I6}:){2}(?::${I6}){1,5}|(?:${I6}:){3}(?::${I6}){1,4}|(?:${I6}:){4}(?::${I6}){1,3}|(?:${I6}:){5}(?::${I6}){1,2}|(?:${I6}:){6}(?::${I6})|:(?::${I6}){1,6}|${I6}?::|(?:0:){6}(?:${I6}\\.){3}${I6}|::(?:ffff:)?(?:${I6}\\.){3}${I6}|(?:0:){5}ffff:(?:${I6}\\.){3}${I6})$`,
    'i',
  ),
  hostname: new RegExp(`^${LABEL}(?:\\.${LABEL})*$`, 'iu'),
};

/** parse_address(address, allow_ranges=True): the host and its port, or null when it is not a host Ansible recognises. */
export function parseAnsibleAddress(address: string): { host: string; port: number | null } | null {
  let rest = address;
  let port: number | null = null;
  // Both are tried, in turn, as Ansible does: `[h]:1:2` loses two ports.
  for (const pattern of [PATTERNS.bracketedHostPort, PATTERNS.hostPort]) {
    const m = pattern.exec(rest);
    if (m !== null) {
      rest = m[1]!;
      port = Number(m[2]);
    }
  }
  if (PATTERNS.ipv4.test(rest) || PATTERNS.ipv6.test(rest) || PATTERNS.hostname.test(rest)) return { host: rest, port };
  return null;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Python's int() of a range bound: digits with an optional sign, underscores between digits, spaces around. */
function pythonInt(text: string): number | null {
  const t = text.trim();
  if (!/^[+-]?\d+(?:_\d+)*$/.test(t)) return null;
  return Number(t.replace(/_/g, ''));
}

/** expand_hostname_range: the first [begin:end(:step)] expanded, then the rest of the name, in order. */
export function expandHostnameRange(line: string, where: string): string[] {
  // As Ansible: the first [ and then the first ] become |, and the name must split into three parts.
  const parts = line.replace('[', '|').replace(']', '|').split('|');
  if (parts.length !== 3) throw rangeError(where, line, 'a range is [begin:end] or [begin:end:step], one [ ] at a time');
  const [head, range, tail] = parts as [string, string, string];
  const bounds = range.split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw rangeError(where, line, 'host range must be begin:end or begin:end:step');
  let [beg, end] = bounds as [string, string];
  const stepText = bounds[2] ?? '1';
  if (beg === '') beg = '0';
  if (end === '') throw rangeError(where, line, 'host range must specify end value');
  let fill = (n: number | string): string => String(n);
  if (beg[0] === '0' && beg.length > 1) {
    if (beg.length !== end.length) throw rangeError(where, line, 'host range must specify equal-length begin and end formats');
    const width = beg.length;
    fill = (n) => String(n).padStart(width, '0');
  }
  const step = pythonInt(stepText);
  // Python's str.index: a bound that is any run of ascii_letters counts as a letter range.
  const ib = LETTERS.indexOf(beg);
  const ie = LETTERS.indexOf(end);
  let sequence: Array<string | number> | null = null;
  if (ib >= 0 && ie >= 0 && step !== null && step !== 0) {
    if (ib > ie) throw rangeError(where, line, 'host range must have begin <= end');
    sequence = [];
    for (let i = ib; step > 0 && i <= ie; i += step) sequence.push(LETTERS[i]!);
  }
  if (sequence === null) {
    const b = pythonInt(beg);
    const e = pythonInt(end);
    if (b === null || e === null || step === null) throw rangeError(where, line, 'a range is of numbers or of letters');
    if (step === 0) throw rangeError(where, line, 'the step of a range may not be 0');
    if (Math.abs((e - b) / step) > 100_000) throw rangeError(where, line, 'more than 100,000 hosts');
    sequence = [];
    // range(b, e + 1, step), as Python counts it.
    if (step > 0) for (let n = b; n < e + 1; n += step) sequence.push(n);
    else for (let n = b; n > e + 1; n += step) sequence.push(n);
  }
  return sequence.flatMap((value) => {
    const name = `${head}${fill(value)}${tail}`;
    return name.includes('[') ? expandHostnameRange(name, where) : [name];
  });
}

function rangeError(where: string, line: string, what: string): HerdError {
  return new HerdError('CONFIG', `${where}: ${line}: ${what}`, { hint: 'ranges are [01:20], [a:f] or [1:10:2] (ansible-inventory --list shows how Ansible reads it)' });
}

/** _expand_hostpattern: the names a host entry stands for, and the port they all share (null: none given). */
export function expandHostPattern(pattern: string, where: string): { names: string[]; port: number | null } {
  const address = parseAnsibleAddress(pattern);
  const host = address?.host ?? pattern;
  const port = address?.port ?? null;
  return { names: host.includes('[') ? expandHostnameRange(host, where) : [host], port };
}
