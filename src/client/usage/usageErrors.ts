import { HerdError } from '../../protocol/errors.ts';

/*
 * yargs' own wording ("Not enough non-option arguments: got 0, need at least 1") never reaches the
 * user: each of its usage failures becomes a sentence that says what to do, with a suggestion for
 * a misspelt command or option.
 */

/** A command as the parser knows it: its words (`job logs`), and the arguments it requires (`<id>`). */
export interface CommandShape {
  words: readonly string[];
  required: readonly string[];
}

/** What each required argument is, in words. */
const ARGUMENTS: Record<string, string> = {
  id: 'a job id (herd job list shows them)',
  name: 'a name',
  what: 'a serial or a subject (herd cert list shows them)',
};

/** Edits between two words, a swap of neighbours counting as one (optimal string alignment), for "did you mean". */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest of `choices` to `typed`, when it is close enough to be a typo. */
export function closest(typed: string, choices: readonly string[]): string | null {
  let best: string | null = null;
  let distance = Infinity;
  for (const choice of choices) {
    const d = editDistance(typed, choice);
    if (d < distance) [best, distance] = [choice, d];
  }
  return best !== null && distance <= Math.max(1, Math.floor(typed.length / 3)) ? best : null;
}

/** The command the words typed so far name: the longest run of leading words that is a command. */
function commandOf(args: readonly string[], commands: readonly CommandShape[]): CommandShape | null {
  const words = args.filter((a) => !a.startsWith('-'));
  let found: CommandShape | null = null;
  for (const command of commands) {
    if (command.words.every((w, i) => words[i] === w) && (found === null || command.words.length > found.words.length)) found = command;
  }
  return found;
}

/**
 * Our error for one of yargs' failures. `args` is the command line; `options` are the option
 * names the command takes (its own and the global ones).
 */
export function usageError(message: string, args: readonly string[], commands: readonly CommandShape[], options: readonly string[]): HerdError {
  const command = commandOf(args, commands);
  // `what` starts the message (errorLine puts "herd: " before it); `where` names the command in hints.
  const where = command === null ? 'herd' : `herd ${command.words.join(' ')}`;
  const what = command === null ? '' : `${command.words.join(' ')}: `;
  const unknown = /^Unknown arguments?: (.+)$/.exec(message);
  if (unknown !== null) {
    const first = unknown[1]!.split(', ')[0]!;
    const flag = args.find((a) => a.replace(/^-+/, '').split('=')[0] === first && a.startsWith('-'));
    if (flag !== undefined) {
      const guess = closest(first, options.filter((o) => o.length > 1));
      return new HerdError('INVALID_SPEC', `${what}no option --${first}`, { hint: guess !== null ? `did you mean --${guess}? (${where} --help lists them)` : `${where} --help lists the options` });
    }
    const depth = command?.words.length ?? 0;
    const next = commands.filter((c) => c.words.length === depth + 1 && (command === null || command.words.every((w, i) => c.words[i] === w))).map((c) => c.words[depth]!);
    const guess = closest(first, next);
    return new HerdError('INVALID_SPEC', `${what}no command "${first}"`, { hint: guess !== null ? `did you mean ${where} ${guess}?` : `${where} --help lists the commands` });
  }
  if (/^Not enough non-option arguments/.test(message) && command !== null && command.required.length > 0) {
    const missing = command.required.map((r) => ARGUMENTS[r] ?? `<${r}>`).join(' and ');
    return new HerdError('INVALID_SPEC', `${what}give ${missing}`, { hint: `${where} --help has examples` });
  }
  const choice = /^Invalid values:\s*Argument: (\S+), Given: (.+), Choices: (.+)$/s.exec(message.replace(/\n/g, ' '));
  if (choice !== null) return new HerdError('INVALID_SPEC', `--${choice[1]}: ${choice[2]!.trim()} is not one of ${choice[3]!.trim()}`);
  const needsValue = /^Not enough arguments following: (\S+)$/.exec(message);
  if (needsValue !== null) return new HerdError('INVALID_SPEC', `--${needsValue[1]} needs a value`, { hint: `${where} --help says what it takes` });
  return new HerdError('INVALID_SPEC', `${what}${message.charAt(0).toLowerCase()}${message.slice(1)}`, { hint: `${where} --help` });
}
