import { closeSync, constants, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { schemaId } from './jsonDocument.ts';
import { HerdError } from '../../protocol/errors.ts';
import { join } from 'node:path';
import type { JobLimits } from '../../protocol/messages.ts';
import { hostColours, paint, useColour, type ColourWhen, type HostColours } from './colour.ts';
import { Collected, DiffOutput, GatherOutput, OrderedOutput, type CollectOptions } from './collectedOutputs.ts';
import { PrefixedLines } from './lineWriter.ts';
import { exitStatus, overallStatus, summaryLine, type HostOutcome } from './outcome.ts';
import { OutputGate } from './outputGate.ts';
import { closingLines, Progress, type RunOutput } from './outputParts.ts';
import { outcomeCounts, runReportJson } from './render.ts';
import type { Io } from '../commands/types.ts';
import { isTerminal } from './terminal.ts';

export type { RunOutput } from './outputParts.ts';

/**
 * How `herd run` shows the output of its jobs: live, gathered (-b), one host after another (-L),
 * as diffs (--diff), into files, as events or one document.
 */
export type OutputMode = 'live' | 'gather' | 'ordered' | 'diff' | 'dir' | 'ndjson' | 'json';

/**
 * Live: output as it comes; with several hosts each line labelled with its host (-N: not).
 * -q: a host's output is held until its job ends, and shown only when it failed.
 */
class LiveOutput implements RunOutput {
  private readonly gates: { 1: OutputGate; 2: OutputGate };
  private readonly prefixers = new Map<string, { 1: PrefixedLines; 2: PrefixedLines }>();
  private readonly prefixed: boolean;
  private readonly colour: { 1: boolean; 2: boolean };
  /** Escape control characters: several hosts' lines interleaved on a terminal (see the README's Output). */
  private readonly escape: { 1: boolean; 2: boolean };
  private readonly held = new Collected();

  constructor(
    private readonly io: Io,
    hosts: number,
    private readonly limits: JobLimits,
    colour: ColourWhen,
    private readonly options: CollectOptions,
    private readonly colours: HostColours,
  ) {
    this.gates = { 1: new OutputGate(io.stdout), 2: new OutputGate(io.stderr) };
    this.prefixed = hosts > 1 && !options.noPrefix;
    this.colour = { 1: useColour(io.stdout, colour), 2: useColour(io.stderr, colour) };
    this.escape = { 1: isTerminal(io.stdout), 2: isTerminal(io.stderr) };
  }

  private prefix(host: string, channel: 1 | 2): string {
    return this.colour[channel] ? `${paint(`${host}:`, this.colours(host))} ` : `${host}: `;
  }

  started(): void {}

  output(host: string, channel: 1 | 2, bytes: Uint8Array, done: () => void): void {
    if (this.options.quiet) {
      this.held.add(host, channel, bytes);
      done();
      return;
    }
    this.show(host, channel, bytes, done);
  }

  private show(host: string, channel: 1 | 2, bytes: Uint8Array, done: () => void): void {
    if (!this.prefixed) {
      this.gates[channel].write(bytes, done);
      return;
    }
    let prefixer = this.prefixers.get(host);
    if (prefixer === undefined) {
      prefixer = {
        1: new PrefixedLines(this.prefix(host, 1), { escape: this.escape[1] }),
        2: new PrefixedLines(this.prefix(host, 2), { escape: this.escape[2] }),
      };
      this.prefixers.set(host, prefixer);
    }
    this.gates[channel].write(prefixer[channel].push(bytes), done);
  }

  hostDone(outcome: HostOutcome): void {
    if (this.options.quiet) {
      if (exitStatus(outcome) === 0) return;
      for (const channel of [1, 2] as const) {
        const bytes = this.held.text(outcome.host, channel);
        if (bytes.length > 0) this.show(outcome.host, channel, bytes, () => {});
      }
    }
    const prefixer = this.prefixers.get(outcome.host);
    if (prefixer !== undefined) for (const channel of [1, 2] as const) this.gates[channel].write(prefixer[channel].end(), () => {});
  }

  end(outcomes: readonly HostOutcome[]): void {
    closingLines(this.io, outcomes, this.limits);
  }
}

/**
 * A host's name as a file name, one-to-one: characters other than letters, digits and `._@:-` are
 * written %XX (UTF-8 bytes), `%` included, so two hosts never share a file.
 */
export function outputFileName(host: string): string {
  return [...Buffer.from(host, 'utf8')].map((b) => (/[A-Za-z0-9._@:-]/.test(String.fromCharCode(b)) && b < 0x80 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

/**
 * A fresh file for a host's output. What was there is removed first (a link is removed, not
 * followed), then the file is created exclusively and without following a symlink: in a shared
 * directory, a link planted meanwhile makes the run fail, never write through it.
 */
function createOutputFile(path: string): number {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new HerdError('INVALID_SPEC', `--output-dir: cannot replace ${path}: ${(err as Error).message}`);
  }
  try {
    return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  } catch (err) {
    throw new HerdError('INVALID_SPEC', `--output-dir: cannot create ${path}: ${(err as Error).message}`, {
      hint: (err as NodeJS.ErrnoException).code === 'EEXIST' ? 'something created it again as herd replaced it: use a directory only you can write' : undefined,
    });
  }
}

/** --output-dir DIR: each host's output in DIR/HOST.stdout and DIR/HOST.stderr, as it comes. */
class DirOutput implements RunOutput {
  private readonly files = new Map<string, { 1: number; 2: number }>();
  private readonly progress: Progress;
  private readonly io: Io;
  private readonly dir: string;
  private readonly limits: JobLimits;

  constructor(io: Io, dir: string, hosts: number, limits: JobLimits) {
    this.io = io;
    this.dir = dir;
    this.limits = limits;
    mkdirSync(dir, { recursive: true });
    this.progress = new Progress(io, hosts);
  }

  private fds(host: string): { 1: number; 2: number } {
    let fds = this.files.get(host);
    if (fds === undefined) {
      const name = outputFileName(host);
      fds = { 1: createOutputFile(join(this.dir, `${name}.stdout`)), 2: createOutputFile(join(this.dir, `${name}.stderr`)) };
      this.files.set(host, fds);
    }
    return fds;
  }

  started(host: string): void {
    this.fds(host);
  }

  output(host: string, channel: 1 | 2, bytes: Uint8Array, done: () => void): void {
    writeSync(this.fds(host)[channel], bytes);
    done();
  }

  hostDone(outcome: HostOutcome): void {
    const fds = this.files.get(outcome.host);
    if (fds !== undefined) {
      closeSync(fds[1]);
      closeSync(fds[2]);
      this.files.delete(outcome.host);
    }
    this.progress.hostDone(outcome);
  }

  end(outcomes: readonly HostOutcome[]): void {
    this.progress.clear();
    closingLines(this.io, outcomes, this.limits);
  }
}

/** --ndjson: one JSON event per line as things happen: started, output chunks, exit or error, and a summary. */
class NdjsonOutput implements RunOutput {
  private readonly io: Io;

  constructor(io: Io) {
    this.io = io;
  }

  private event(value: Record<string, unknown>): void {
    this.io.stdout.write(`${JSON.stringify({ schema: schemaId('run-event'), time: new Date().toISOString(), ...value })}\n`);
  }

  started(host: string, jobId: string): void {
    this.event({ event: 'started', host, jobId });
  }

  output(host: string, channel: 1 | 2, bytes: Uint8Array, done: () => void): void {
    const text = Buffer.from(bytes).toString('utf8');
    // Output that is not UTF-8 goes as base64, so no byte is lost.
    const exact = Buffer.from(text, 'utf8').equals(Buffer.from(bytes));
    this.event({ event: 'output', host, stream: channel === 1 ? 'stdout' : 'stderr', ...(exact ? { data: text } : { base64: Buffer.from(bytes).toString('base64') }) });
    done();
  }

  hostDone(o: HostOutcome): void {
    if (o.result !== null) this.event({ event: 'exit', host: o.host, exitCode: exitStatus(o), result: o.result });
    else this.event({ event: 'error', host: o.host, exitCode: exitStatus(o), error: o.error?.toJSON() ?? null });
  }

  end(outcomes: readonly HostOutcome[]): void {
    this.event({ event: 'summary', hosts: outcomes.length, ...outcomeCounts(outcomes), exitCode: overallStatus(outcomes), line: summaryLine(outcomes) });
  }
}

/** --json: one document at the end, with each host's output and result. */
class JsonOutput implements RunOutput {
  private readonly collected = new Collected();
  private readonly io: Io;

  constructor(io: Io) {
    this.io = io;
  }

  started(): void {}

  output(host: string, channel: 1 | 2, bytes: Uint8Array, done: () => void): void {
    this.collected.add(host, channel, bytes);
    done();
  }

  hostDone(o: HostOutcome): void {
    o.stdout = this.collected.text(o.host, 1);
    o.stderr = this.collected.text(o.host, 2);
  }

  end(outcomes: readonly HostOutcome[]): void {
    this.io.stdout.write(runReportJson(outcomes));
  }
}

/** What the output needs to know of the run beyond its mode. */
export interface OutputSetup {
  /** The hosts, in the order given: the first 12 get colours of their own. */
  hosts: readonly string[];
  limits: JobLimits;
  colour: ColourWhen;
  dir?: string;
  /** -q: only failed hosts' output. */
  quiet?: boolean;
  /** -N: no host labels. */
  noPrefix?: boolean;
}

export function runOutput(mode: OutputMode, io: Io, setup: OutputSetup): RunOutput {
  const count = setup.hosts.length;
  const options: CollectOptions = { quiet: setup.quiet === true, noPrefix: setup.noPrefix === true };
  const colours = hostColours(setup.hosts);
  switch (mode) {
    case 'gather':
      return new GatherOutput(io, count, setup.limits, setup.colour, options);
    case 'ordered':
      return new OrderedOutput(io, count, setup.limits, options, colours, { 1: useColour(io.stdout, setup.colour), 2: useColour(io.stderr, setup.colour) });
    case 'diff':
      return new DiffOutput(io, count, setup.limits, options);
    case 'dir':
      return new DirOutput(io, setup.dir!, count, setup.limits);
    case 'ndjson':
      return new NdjsonOutput(io);
    case 'json':
      return new JsonOutput(io);
    default:
      return new LiveOutput(io, count, setup.limits, setup.colour, options, colours);
  }
}
