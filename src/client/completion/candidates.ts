/*
 * What the shell may complete where yargs' own completion knows nothing: host names and groups
 * after -H and -x (the last of a comma-separated list), job ids after the job commands that take
 * one. The words are the command line so far, the last one being completed. No I/O here: the
 * names come in as data.
 */
export interface CompletionData {
  /** Host names of the config, the inventory and ~/.ssh/config (Host lines without patterns). */
  hosts: readonly string[];
  /** Groups of the config and the inventory (completed as @name). */
  groups: readonly string[];
  /** Jobs this user started, newest first. */
  jobIds: readonly string[];
}

const HOST_OPTIONS = new Set(['-H', '--hosts', '--node', '-x', '--exclude']);
const JOB_ID_COMMANDS = new Set(['status', 'logs', 'log', 'wait', 'stop', 'delete']);

/** Candidates for the last word, or null to leave it to yargs (commands, flags, choices). */
export function completeWords(words: readonly string[], data: CompletionData): string[] | null {
  const current = words[words.length - 1] ?? '';
  const previous = words[words.length - 2] ?? '';
  const inline = /^(-H|--hosts|--node|-x|--exclude)=(.*)$/.exec(current);
  if (HOST_OPTIONS.has(previous) || inline !== null) {
    const value = inline === null ? current : inline[2]!;
    const cut = Math.max(value.lastIndexOf(','), value.lastIndexOf('!'), value.lastIndexOf('&'), value.lastIndexOf('^'));
    const head = value.slice(0, cut + 1);
    const last = value.slice(cut + 1);
    const names = [...data.hosts, ...data.groups.map((g) => `@${g}`)];
    return names.filter((n) => n.startsWith(last)).map((n) => `${inline === null ? '' : `${inline[1]}=`}${head}${n}`);
  }
  // `herd job logs <id>`: the first word after the subcommand that is not an option.
  const job = words.indexOf('job');
  if (job >= 0 && !current.startsWith('-')) {
    const sub = words[job + 1];
    const rest = words.slice(job + 2, -1).filter((w) => !w.startsWith('-'));
    if (sub !== undefined && JOB_ID_COMMANDS.has(sub) && words.length - 1 > job + 1 && rest.length === 0) return data.jobIds.filter((id) => id.startsWith(current));
  }
  return null;
}
