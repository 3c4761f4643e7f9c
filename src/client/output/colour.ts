import { isTerminal } from './terminal.ts';

/** When host names are painted: auto (a terminal, and NO_COLOR unset), always, never. */
export type ColourWhen = 'auto' | 'always' | 'never';

export const COLOUR_CHOICES: readonly ColourWhen[] = ['auto', 'always', 'never'];

export function useColour(stream: NodeJS.WritableStream, when: ColourWhen): boolean {
  if (when !== 'auto') return when === 'always';
  // https://no-color.org: any non-empty value turns colour off.
  if ((process.env.NO_COLOR ?? '') !== '') return false;
  return isTerminal(stream);
}

// Readable on dark and light terminals; red is left for failures. Twelve, the last two from the
// 256-colour set (orange, violet), so a dozen hosts each have their own.
const PALETTE: readonly string[] = ['36', '32', '33', '34', '35', '96', '92', '93', '94', '95', '38;5;208', '38;5;141'];

/** A host's colour in a run. */
export type HostColours = (host: string) => string;

/** The run's first hosts (up to the palette's size) each get a colour of their own, in order; the rest one by their name. */
export function hostColours(hosts: readonly string[]): HostColours {
  const given = new Map<string, string>();
  for (const host of hosts) {
    if (given.size >= PALETTE.length) break;
    if (!given.has(host)) given.set(host, PALETTE[given.size]!);
  }
  return (host) => given.get(host) ?? hostColour(host);
}

/** The same colour for a host every time (a hash of its name), so one host's lines are easy to follow. */
export function hostColour(host: string): string {
  let hash = 0;
  for (let i = 0; i < host.length; i++) hash = (hash * 31 + host.charCodeAt(i)) >>> 0;
  return PALETTE[hash % PALETTE.length]!;
}

export function paint(text: string, colour: number | string): string {
  return `\x1b[${colour}m${text}\x1b[0m`;
}
