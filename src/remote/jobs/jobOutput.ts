import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, createReadStream, existsSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { HerdError } from '../../protocol/errors.ts';
import { resolveCommand } from '../system/command.ts';
import { DEFAULT_PATH } from './jobPlan.ts';
import { runtimeName } from '../../shared/runtime.ts';

/** The FIFOs a job writes its stdout and stderr to (see init.ts), in its directory. */
export const OUTPUT_PIPES = { 1: 'stdout.pipe', 2: 'stderr.pipe' } as const;

function fifoArgs(dir: string): string[] {
  return ['-m', '600', join(dir, OUTPUT_PIPES[1]), join(dir, OUTPUT_PIPES[2])];
}

function haveFifos(dir: string): boolean {
  return existsSync(join(dir, OUTPUT_PIPES[1])) && existsSync(join(dir, OUTPUT_PIPES[2]));
}

let mkfifo: string | undefined;

/** mkfifo(1), also where the agent's PATH does not lead (as unshare and setpriv are found). */
function mkfifoPath(): string {
  if (mkfifo === undefined) {
    try {
      mkfifo = resolveCommand('mkfifo', `${process.env.PATH ?? ''}:${DEFAULT_PATH}`);
    } catch {
      throw new HerdError('JOB_FAILED', 'mkfifo(1) is not installed on this host: install coreutils');
    }
  }
  return mkfifo;
}

/** FIFOs made ahead, many per mkfifo(1) run, and how few are left before more are made. */
const STOCK_BATCH = 32;
const STOCK_LOW = 8;

/**
 * FIFOs made ahead in jobs/.fifos, so starting a job runs no process to make its own: no runtime
 * has mkfifo(3), and a mkfifo(1) per job cost a fork and exec at the start of every job. A job
 * renames two of them into its directory.
 */
class FifoStock {
  private readonly dir: string;
  private made = 0;
  private refilling = false;

  constructor(jobsDir: string) {
    this.dir = join(jobsDir, '.fifos');
  }

  /** Moves two FIFOs into `jobDir` as its output pipes; false when there were none to take. */
  take(jobDir: string): boolean {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      names = [];
    }
    if (names.length - 2 < STOCK_LOW) this.refill();
    const taken: string[] = [];
    for (const name of names) {
      if (taken.length === 2) break;
      const target = join(jobDir, OUTPUT_PIPES[taken.length === 0 ? 1 : 2]);
      try {
        renameSync(join(this.dir, name), target);
        taken.push(target);
      } catch {
        // taken by another agent meanwhile
      }
    }
    if (taken.length === 2) return true;
    for (const path of taken) unlinkSync(path);
    return false;
  }

  refill(): void {
    if (this.refilling) return;
    this.refilling = true;
    let path: string;
    try {
      path = mkfifoPath();
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    } catch {
      this.refilling = false;
      return;
    }
    const names = Array.from({ length: STOCK_BATCH }, () => join(this.dir, `${process.pid}-${this.made++}`));
    const child = spawn(path, ['-m', '600', ...names], { stdio: 'ignore' });
    const done = (): void => {
      this.refilling = false;
    };
    child.once('error', done);
    child.once('exit', done);
  }
}

const stocks = new Map<string, FifoStock>();

function stockOf(jobsDir: string): FifoStock {
  let stock = stocks.get(jobsDir);
  if (stock === undefined) {
    stock = new FifoStock(jobsDir);
    stocks.set(jobsDir, stock);
  }
  return stock;
}

/** Fills the FIFO stock of a jobs directory in the background (at agent start). */
export function stockOutputPipes(jobsDir: string): void {
  stockOf(jobsDir).refill();
}

/** Gives a job its FIFOs: from the stock, or made now when it is empty. */
export function makeOutputPipes(dir: string): void {
  if (haveFifos(dir)) return;
  if (stockOf(dirname(dir)).take(dir)) return;
  const made = spawnSync(mkfifoPath(), fifoArgs(dir), { stdio: ['ignore', 'ignore', 'pipe'] });
  if (made.status !== 0) {
    const why = made.error?.message ?? (made.stderr?.toString().trim() || `status ${made.status}`);
    throw new HerdError('JOB_FAILED', `cannot make the job's output pipes: ${why}`);
  }
}

export function removeOutputPipes(dir: string): void {
  for (const name of Object.values(OUTPUT_PIPES)) {
    try {
      unlinkSync(join(dir, name));
    } catch {
      // already gone
    }
  }
}

declare const Bun: { file(path: string): { stream(): ReadableStream<Uint8Array> } };

/**
 * A FIFO read without tying up a thread while the job is quiet. node reads it as a pipe on its
 * event loop; bun's own file stream polls it (its fs.createReadStream would hold a thread of the
 * small pool other file operations need, which deadlocked the agent); deno's file reads wait on
 * its large pool of blocking threads. Opened only once the job holds the FIFO (a writer exists),
 * so the open never waits and the reader sees end-of-file only when the job, and everything it
 * started, is gone.
 */
function openFifo(path: string): Readable {
  if (runtimeName === 'node') {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    return new Socket({ fd, readable: true, writable: false });
  }
  if (runtimeName === 'bun') return Readable.fromWeb(Bun.file(path).stream() as never);
  return createReadStream(path, { highWaterMark: 64 * 1024 });
}

/** Reads a job's two output FIFOs until both end. */
export class JobOutputs {
  private readonly readers: Readable[];
  private readonly paths: string[];
  private open = 2;

  constructor(dir: string, onData: (channel: 1 | 2, chunk: Uint8Array) => void, onEnd: () => void) {
    this.paths = ([1, 2] as const).map((channel) => join(dir, OUTPUT_PIPES[channel]));
    this.readers = ([1, 2] as const).map((channel) => {
      const reader = openFifo(this.paths[channel - 1]!);
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        if (--this.open === 0) onEnd();
      };
      reader.on('data', (chunk: Uint8Array) => onData(channel, chunk));
      reader.once('end', end);
      reader.once('close', end);
      reader.once('error', end);
      return reader;
    });
  }

  pause(): void {
    for (const reader of this.readers) reader.pause();
  }

  resume(): void {
    for (const reader of this.readers) reader.resume();
  }

  /**
   * The job's processes are gone: let the readers see the end once the output left in the pipes is
   * read. Linux reports a FIFO's end (POLLHUP) to a reader only when a writer came and went after
   * the reader opened it, so a reader that opened after the init had already exited (an init that
   * failed right after saying its pid) would wait forever. A writer opened and closed here is that
   * writer; one still held open elsewhere keeps the output open, as before.
   */
  writersGone(): void {
    for (const path of this.paths) {
      try {
        closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // ENXIO: no reader any more; ENOENT: already removed
      }
    }
  }
}
