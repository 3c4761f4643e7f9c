import { closeSync, constants, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { HerdError } from '../../protocol/errors.ts';
import { join } from 'node:path';
import type { JobLimits } from '../../protocol/messages.ts';
import { hostColour, paint, useColour, type ColourWhen } from './colour.ts';
import { PrefixedLines } from './lineWriter.ts';
import { escapeControlBytes } from './safeText.ts';
import { exitStatus, summaryLine, type HostOutcome } from './outcome.ts';
import { OutputGate } from './outputGate.ts';
import { errorLine, resultNote, runReportJson } from './render.ts';
import type { Io } from '../commands/types.ts';
import { foldNodeset } from '../hosts/nodeset.ts';
import { isTerminal } from './terminal.ts';

/** How `herd run` shows the output of its jobs: live, gathered, into files, as events or one document. */
export type OutputMode = 'live' | 'gather' | 'dir' | 'ndjson' | 'json';

export interface RunOutput {
  /** A host's job started. */
  started(host: string, jobId: string): void;
  /** Output of a host's job; `done` once it has been taken, so the host may send more. */
  output(host: string, channel: 1 | 2, bytes: Uint8Array, done: () => void): void;
  /** A host is done: its result or its error is in the outcome. */
  hostDone(outcome: HostOutcome): void;
  /** Every host is done (or the run was interrupted): what is left to print. */
  end(outcomes: readonly HostOutcome[]): void;
}

/** Errors, notes (OOM) and, for several hosts, the summary line: on stderr, after the output. */
function closingLines(io: Io, outcomes: readonly HostOutcome[], limits: JobLimits): void {
  for (const o of outcomes) {
    if (o.error !== null) io.stderr.write(`${errorLine(o.error)}\n`);
    const line = o.result === null ? null : resultNote(o.host, o.result, limits);
    if (line !== null) io.stderr.write(`${line}\n`);
  }
  if (outcomes.length > 1) io.stderr.write(`${summaryLine(outcomes)}\n`);
}

/** Hosts done out of all, and failures, on one line rewritten in place: only on a terminal, never in pipes. */
class Progress {
  private done = 0;
  private failed = 0;
  private readonly io: Io;
  private readonly total: number;
  private readonly enabled: boolean;

  constructor(io: Io, total: number) {
    this.io = io;
    this.total = total;
    this.enabled = isTerminal(io.stderr) && total > 1;
  }

  hostDone(outcome: HostOutcome): void {
    this.done++;
    if (exitStatus(outcome) !== 0) this.failed++;
    if (this.enabled) this.io.stderr.write(`\r\x1b[Kherd: ${this.done}/${this.total} hosts done${this.failed > 0 ? `, ${this.failed} failed` : ''}`);
  }

  clear(): void {
    if (this.enabled && this.done > 0) this.io.stderr.write('\r\x1b[K');
  }
}

/** Live: output as it comes; with several hosts each line prefixed with its host. */
class LiveOutput implements RunOutput {
  private readonly gates: { 1: OutputGate; 2: OutputGate };
  private readonly prefixers = new Map<string, { 1: PrefixedLines; 2: PrefixedLines }>();
  private readonly prefixed: boolean;
  private readonly io: Io;
  private readonly limits: JobLimits;
  private readonly colour: { 1: boolean; 2: boolean };
  /** Escape control characters: several hosts' lines interleaved on a terminal (see the README's Output). */
  private readonly escape: { 1: boolean; 2: boolean };

  constructor(io: Io, hosts: number, limits: JobLimits, colour: ColourWhen) {
    this.io = io;
    this.limits = limits;
    this.gates = { 1: new OutputGate(io.stdout), 2: new OutputGate(io.stderr) };
    this.prefixed = hosts > 1;
    this.colour = { 1: useColour(io.stdout, colour), 2: useColour(io.stderr, colour) };
    this.escape = { 1: isTerminal(io.stdout), 2: isTerminal(io.stderr) };
  }

  private prefix(host: string, channel: 1 | 2): string {
    return this.colour[channel] ? `${paint(`${host}:`, hostColour(host))} ` : `${host}: `;
  }

  started(): void {}

  output(host: string, channel: 1 | 2, bytes: Uint8Array, done: () => void): void {
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
    const prefixer = this.prefixers.get(outcome.host);
    if (prefixer !== undefined) for (const channel of [1, 2] as const) this.gates[channel].write(prefixer[channel].end(), () => {});
  }

  end(outcomes: readonly HostOutcome[]): void {
    closingLines(this.io, outcomes, this.limits);
  }
}

/** Collects each host's stdout and stderr in memory, for the modes that print at the end. */
class Collected {
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

/**
 * -b/--gather: waits, then prints each distinct output once under the hosts that produced it
 * (hosts group together only when their stdout, stderr and exit status all match).
 */
class GatherOutput implements RunOutput {
  private readonly collected = new Collected();
  private readonly progress: Progress;
  private readonly io: Io;
  private readonly limits: JobLimits;
  private readonly colour: boolean;

  constructor(io: Io, hosts: number, limits: JobLimits, colour: ColourWhen) {
    this.io = io;
    this.limits = limits;
    this.progress = new Progress(io, hosts);
    this.colour = useColour(io.stdout, colour);
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
    const groups = new Map<string, { hosts: string[]; stdout: Buffer; stderr: Buffer; status: number }>();
    for (const o of outcomes) {
      if (o.result === null) continue;
      const stdout = this.collected.text(o.host, 1);
      const stderr = this.collected.text(o.host, 2);
      const status = exitStatus(o);
      const key = `${status}\0${stdout.toString('base64')}\0${stderr.toString('base64')}`;
      const group = groups.get(key);
      if (group === undefined) groups.set(key, { hosts: [o.host], stdout, stderr, status });
      else group.hosts.push(o.host);
    }
    for (const group of groups.values()) {
      const title = `${foldNodeset(group.hosts)} (${group.hosts.length})${group.status === 0 ? '' : ` exit ${group.status}`}`;
      const rule = '-'.repeat(Math.min(Math.max(title.length, 15), 78));
      this.io.stdout.write(`${rule}\n${this.colour ? paint(title, group.status === 0 ? 36 : 31) : title}\n${rule}\n`);
      this.io.stdout.write(isTerminal(this.io.stdout) ? escapeControlBytes(group.stdout) : group.stdout);
      if (group.stdout.length > 0 && group.stdout[group.stdout.length - 1] !== 10) this.io.stdout.write('\n');
      if (group.stderr.length > 0) this.io.stderr.write(isTerminal(this.io.stderr) ? escapeControlBytes(group.stderr) : group.stderr);
    }
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
    this.io.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...value })}\n`);
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
    this.event({ event: 'summary', hosts: outcomes.length, line: summaryLine(outcomes) });
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
    o.stdout = this.collected.text(o.host, 1).toString('utf8');
    o.stderr = this.collected.text(o.host, 2).toString('utf8');
  }

  end(outcomes: readonly HostOutcome[]): void {
    this.io.stdout.write(runReportJson(outcomes));
  }
}

export function runOutput(mode: OutputMode, io: Io, hosts: number, limits: JobLimits, colour: ColourWhen, dir?: string): RunOutput {
  switch (mode) {
    case 'gather':
      return new GatherOutput(io, hosts, limits, colour);
    case 'dir':
      return new DirOutput(io, dir!, hosts, limits);
    case 'ndjson':
      return new NdjsonOutput(io);
    case 'json':
      return new JsonOutput(io);
    default:
      return new LiveOutput(io, hosts, limits, colour);
  }
}
