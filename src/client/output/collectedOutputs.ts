import { structuredPatch } from 'diff';
import type { JobLimits } from '../../protocol/messages.ts';
import type { Io } from '../commands/types.ts';
import { foldNodeset } from '../hosts/nodeset.ts';
import { paint, useColour, type ColourWhen, type HostColours } from './colour.ts';
import { PrefixedLines } from './lineWriter.ts';
import { exitStatus, type HostOutcome } from './outcome.ts';
import { closingLines, Progress, type RunOutput } from './outputParts.ts';
import { escapeControlBytes } from './safeText.ts';
import { isTerminal } from './terminal.ts';

/*
 * The output modes that wait for every host, then print: -b (gather), -L (one host after another),
 * --diff (each output against the most common one).
 */

/** Collects each host's stdout and stderr in memory. */
export class Collected {
  readonly out = new Map<string, { 1: Buffer[]; 2: Buffer[] }>();

  add(host: string, channel: 1 | 2, bytes: Uint8Array): void {
    let entry = this.out.get(host);
    if (entry === undefined) {
      entry = { 1: [], 2: [] };
      this.out.set(host, entry);
    }
    entry[channel].push(Buffer.from(bytes));
  }

  text(host: string, channel: 1 | 2): Buffer {
    return Buffer.concat(this.out.get(host)?.[channel] ?? []);
  }
}

/** How a collecting mode was asked for. */
export interface CollectOptions {
  /** -q: only hosts whose job failed. */
  quiet: boolean;
  /** -N: no host labels on lines. */
  noPrefix: boolean;
}

/** Host names in the order a person reads them: web2 before web10 (numbers compared as numbers). */
export function naturalCompare(a: string, b: string): number {
  const pa = a.split(/(\d+)/);
  const pb = b.split(/(\d+)/);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    const numeric = i % 2 === 1;
    if (numeric) {
      const d = BigInt(pa[i]!) - BigInt(pb[i]!);
      if (d !== 0n) return d < 0n ? -1 : 1;
      return pa[i]!.length - pb[i]!.length;
    }
    return pa[i]! < pb[i]! ? -1 : 1;
  }
  return pa.length - pb.length;
}

abstract class CollectingOutput implements RunOutput {
  protected readonly collected = new Collected();
  protected readonly progress: Progress;

  constructor(
    protected readonly io: Io,
    hosts: number,
    protected readonly limits: JobLimits,
    protected readonly options: CollectOptions,
  ) {
    this.progress = new Progress(io, hosts);
  }

  started(): void {}

  output(host: string, channel: 1 | 2, bytes: Uint8Array, done: () => void): void {
    this.collected.add(host, channel, bytes);
    done();
  }

  hostDone(outcome: HostOutcome): void {
    this.progress.hostDone(outcome);
  }

  end(outcomes: readonly HostOutcome[]): void {
    this.progress.clear();
    this.print(outcomes.filter((o) => o.result !== null && (!this.options.quiet || exitStatus(o) !== 0)));
    closingLines(this.io, outcomes, this.limits);
  }

  protected abstract print(ran: readonly HostOutcome[]): void;

  /** Host text for a terminal: control characters escaped (see the README's Output). */
  protected safe(stream: NodeJS.WritableStream, bytes: Buffer): Uint8Array | string {
    return isTerminal(stream) ? escapeControlBytes(bytes) : bytes;
  }
}

/**
 * -b/--gather: each distinct stdout once, under the hosts that printed it (with the same exit
 * status); stderr after it, line by line labelled with its host, so a warning on one host does
 * not split hosts whose output is the same.
 */
export class GatherOutput extends CollectingOutput {
  private readonly colour: boolean;

  constructor(io: Io, hosts: number, limits: JobLimits, colour: ColourWhen, options: CollectOptions) {
    super(io, hosts, limits, options);
    this.colour = useColour(io.stdout, colour);
  }

  protected print(ran: readonly HostOutcome[]): void {
    const groups = new Map<string, { hosts: string[]; stdout: Buffer; status: number }>();
    for (const o of ran) {
      const stdout = this.collected.text(o.host, 1);
      const status = exitStatus(o);
      const key = `${status}\0${stdout.toString('base64')}`;
      const group = groups.get(key);
      if (group === undefined) groups.set(key, { hosts: [o.host], stdout, status });
      else group.hosts.push(o.host);
    }
    for (const group of groups.values()) {
      if (!this.options.noPrefix) {
        const title = `${foldNodeset(group.hosts)} (${group.hosts.length})${group.status === 0 ? '' : ` exit ${group.status}`}`;
        const rule = '-'.repeat(Math.min(Math.max(title.length, 15), 78));
        this.io.stdout.write(`${rule}\n${this.colour ? paint(title, group.status === 0 ? 36 : 31) : title}\n${rule}\n`);
      }
      this.io.stdout.write(this.safe(this.io.stdout, group.stdout));
      if (group.stdout.length > 0 && group.stdout[group.stdout.length - 1] !== 10) this.io.stdout.write('\n');
    }
    for (const o of ran) {
      const stderr = this.collected.text(o.host, 2);
      if (stderr.length === 0) continue;
      const lines = new PrefixedLines(this.options.noPrefix ? '' : `${o.host}: `, { escape: isTerminal(this.io.stderr) });
      this.io.stderr.write(Buffer.concat([lines.push(stderr), lines.end()]));
    }
  }
}

/** -L: every line of one host, then the next host's, hosts in name order (web2 before web10). */
export class OrderedOutput extends CollectingOutput {
  constructor(
    io: Io,
    hosts: number,
    limits: JobLimits,
    options: CollectOptions,
    private readonly colours: HostColours,
    private readonly colour: { 1: boolean; 2: boolean },
  ) {
    super(io, hosts, limits, options);
  }

  protected print(ran: readonly HostOutcome[]): void {
    for (const o of [...ran].sort((a, b) => naturalCompare(a.host, b.host))) {
      for (const channel of [1, 2] as const) {
        const stream = channel === 1 ? this.io.stdout : this.io.stderr;
        const label = this.options.noPrefix ? '' : this.colour[channel] ? `${paint(`${o.host}:`, this.colours(o.host))} ` : `${o.host}: `;
        const lines = new PrefixedLines(label, { escape: isTerminal(stream) });
        const bytes = Buffer.concat([lines.push(this.collected.text(o.host, channel)), lines.end()]);
        if (bytes.length > 0) stream.write(bytes);
      }
    }
  }
}

/** One unified diff of `from` to `to` (no file header: the caller titles it); empty when they are the same. */
export function unifiedDiff(from: string, to: string, fromTitle: string, toTitle: string): string {
  const patch = structuredPatch(fromTitle, toTitle, from, to, '', '', { context: 3 });
  if (patch.hunks.length === 0) return '';
  const lines = [`--- ${fromTitle}`, `+++ ${toTitle}`];
  for (const hunk of patch.hunks) {
    lines.push(`@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`, ...hunk.lines);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * --diff: the most common stdout is the reference (named by its hosts); every other output is
 * shown as a unified diff against it, under the hosts that printed it. Stderr as with -b.
 */
export class DiffOutput extends CollectingOutput {
  protected print(ran: readonly HostOutcome[]): void {
    const groups = new Map<string, string[]>();
    for (const o of ran) {
      const stdout = this.collected.text(o.host, 1).toString('utf8');
      groups.set(stdout, [...(groups.get(stdout) ?? []), o.host]);
    }
    const ordered = [...groups.entries()].sort((a, b) => b[1].length - a[1].length);
    const reference = ordered[0];
    if (reference === undefined) return;
    const [common, commonHosts] = reference;
    const title = (hosts: readonly string[]): string => `${foldNodeset(hosts)} (${hosts.length})`;
    this.io.stdout.write(`herd: the most common output is ${title(commonHosts)}'s${ordered.length === 1 ? '; every host printed it' : ''}\n`);
    for (const [output, hosts] of ordered.slice(1)) {
      this.io.stdout.write(this.safe(this.io.stdout, Buffer.from(unifiedDiff(common, output, title(commonHosts), title(hosts)), 'utf8')));
    }
    for (const o of ran) {
      const stderr = this.collected.text(o.host, 2);
      if (stderr.length === 0) continue;
      const lines = new PrefixedLines(`${o.host}: `, { escape: isTerminal(this.io.stderr) });
      this.io.stderr.write(Buffer.concat([lines.push(stderr), lines.end()]));
    }
  }
}
