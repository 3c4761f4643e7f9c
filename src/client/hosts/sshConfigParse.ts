import { HerdError } from '../../protocol/errors.ts';

/**
 * ssh_config(5) as OpenSSH 9 reads it (readconf.c), to data: each line a keyword and its
 * arguments, Host and Match lines the start of a block, Include lines the files they name, parsed
 * in place. No I/O here: the caller reads what an Include names.
 */
export type Directive =
  | { kind: 'option'; keyword: string; args: string[]; where: string }
  | { kind: 'host'; patterns: string[]; where: string }
  | { kind: 'match'; criteria: MatchCriterion[]; where: string }
  | { kind: 'include'; files: ParsedSshConfig[]; where: string };

export const MATCH_ATTRIBUTES = ['all', 'canonical', 'final', 'exec', 'localnetwork', 'host', 'originalhost', 'user', 'localuser'] as const;
export type MatchAttribute = (typeof MATCH_ATTRIBUTES)[number];

export interface MatchCriterion {
  attribute: MatchAttribute;
  negated: boolean;
  /** The pattern list (or command) it takes; null for all, canonical and final. */
  argument: string | null;
}

export interface ParsedSshConfig {
  path: string;
  /** A user's file (~/.ssh/config, -F) as against the system's: identity files of the two are told apart. */
  userConfig: boolean;
  directives: Directive[];
}

/** Reads what one Include argument names (relative paths, ~ and globs resolved), as parsed files. */
export type IncludeReader = (spec: string, from: ParsedSshConfig, depth: number) => ParsedSshConfig[];

/** OpenSSH gives up past this depth of Include. */
export const MAX_INCLUDE_DEPTH = 16;

const WHITESPACE = ' \t\r\n';

function configError(where: string, what: string): HerdError {
  return new HerdError('CONFIG', `${where}: ${what}`, { hint: 'ssh -G HOST shows how OpenSSH reads the same file' });
}

/** A line's arguments, as argv_split: whitespace between them, quotes around, backslash before a quote, a backslash or (unquoted) a space; a word beginning with # ends the line. */
export function splitArguments(text: string, where: string): string[] {
  const args: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '#') break;
    let quote = '';
    let arg = '';
    for (; i < text.length; i++) {
      const ch = text[i]!;
      const next = text[i + 1];
      if (ch === '\\') {
        if (next === "'" || next === '"' || next === '\\' || (quote === '' && next === ' ')) {
          i++;
          arg += next;
        } else arg += ch;
      } else if (quote === '' && (ch === ' ' || ch === '\t')) break;
      else if (quote === '' && (ch === '"' || ch === "'")) quote = ch;
      else if (quote !== '' && ch === quote) quote = '';
      else arg += ch;
    }
    if (quote !== '') throw configError(where, 'invalid quotes');
    args.push(arg);
  }
  return args;
}

/** A line's keyword (lowercased) and the rest: whitespace or one `=` between them. Null for blank and comment lines. */
function keywordOf(line: string): { keyword: string; rest: string } | null {
  let s = line;
  let end = s.length;
  while (end > 0 && (WHITESPACE + '\f').includes(s[end - 1]!)) end--;
  s = s.slice(0, end);
  let at = 0;
  while (at < s.length && WHITESPACE.includes(s[at]!)) at++;
  let stop = at;
  while (stop < s.length && !`${WHITESPACE}"=`.includes(s[stop]!)) stop++;
  const keyword = s.slice(at, stop);
  if (keyword === '' || keyword.startsWith('#')) return null;
  let rest = s.slice(stop);
  rest = rest.replace(/^[ \t]*/, '');
  if (rest.startsWith('=')) rest = rest.slice(1).replace(/^[ \t]*/, '');
  return { keyword: keyword.toLowerCase(), rest };
}

function parseMatch(args: readonly string[], where: string): MatchCriterion[] {
  const criteria: MatchCriterion[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    const negated = word.startsWith('!');
    const name = (negated ? word.slice(1) : word).toLowerCase();
    if (!(MATCH_ATTRIBUTES as readonly string[]).includes(name)) throw configError(where, `Unsupported Match attribute ${word}`);
    const attribute = name as MatchAttribute;
    // As readconf.c: "all" ends the line, after at most one other attribute.
    if (attribute === 'all' && (criteria.length > 1 || i + 1 < args.length)) throw configError(where, "'all' cannot be combined with other Match attributes");
    if (attribute === 'all' || attribute === 'canonical' || attribute === 'final') {
      criteria.push({ attribute, negated, argument: null });
      continue;
    }
    const argument = args[i + 1];
    if (argument === undefined || argument === '') throw configError(where, `Missing Match criteria for ${word}`);
    criteria.push({ attribute, negated, argument });
    i++;
  }
  if (criteria.length === 0) throw configError(where, 'Match needs criteria');
  return criteria;
}

/** Parses one file's text; `readInclude` is asked for each Include's files, in place. */
export function parseSshConfig(text: string, path: string, userConfig: boolean, readInclude: IncludeReader, depth = 0): ParsedSshConfig {
  const parsed: ParsedSshConfig = { path, userConfig, directives: [] };
  text.split('\n').forEach((line, index) => {
    const where = `${path} line ${index + 1}`;
    const head = keywordOf(line);
    if (head === null) return;
    if (head.rest === '') throw configError(where, `no argument after keyword "${head.keyword}"`);
    const args = splitArguments(head.rest, where);
    if (args.length === 0) throw configError(where, `no argument after keyword "${head.keyword}"`);
    switch (head.keyword) {
      case 'host':
        if (args.some((a) => a === '' || a === '!')) throw configError(where, 'empty Host pattern');
        parsed.directives.push({ kind: 'host', patterns: args, where });
        return;
      case 'match':
        parsed.directives.push({ kind: 'match', criteria: parseMatch(args, where), where });
        return;
      case 'include': {
        if (depth >= MAX_INCLUDE_DEPTH) throw configError(where, 'Include nested too deeply');
        const files = args.flatMap((spec) => readInclude(spec, parsed, depth + 1));
        parsed.directives.push({ kind: 'include', files, where });
        return;
      }
      default:
        parsed.directives.push({ kind: 'option', keyword: head.keyword, args, where });
    }
  });
  return parsed;
}
