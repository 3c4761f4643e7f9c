import { spawn, spawnSync } from 'node:child_process';
import { constants, createReadStream, existsSync, openSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { HerdError } from '../../protocol/errors.ts';
import { resolveCommand } from '../command.ts';
import { DEFAULT_PATH } from '../jobPlan.ts';
import { runtimeName } from '../runtime.ts';

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

/** Makes the job's FIFOs now (no runtime has mkfifo(3); mkfifo(1) does it). */
export function makeOutputPipes(dir: string): void {
  if (haveFifos(dir)) return;
  const made = spawnSync(mkfifoPath(), fifoArgs(dir), { stdio: ['ignore', 'ignore', 'pipe'] });
  if (made.status !== 0) {
    const why = made.error?.message ?? (made.stderr?.toString().trim() || `status ${made.status}`);
    throw new HerdError('JOB_FAILED', `cannot make the job's output pipes: ${why}`);
  }
}

/** The same, off the event loop: for a spare launcher's future job, while nothing waits on it. */
export function makeOutputPipesLater(dir: string): Promise<void> {
  return new Promise((resolve) => {
    let path: string;
    try {
      path = mkfifoPath();
    } catch {
      resolve();
      return;
    }
    const child = spawn(path, fifoArgs(dir), { stdio: 'ignore' });
    child.once('error', () => resolve());
    child.once('exit', () => resolve());
  });
}

/**
 * Removes the directory a spare launcher prepared for a job that never came (it holds only the
 * FIFOs); anything else in it means a job, and it stays.
 */
export function removeUnusedJobDir(dir: string): void {
  try {
    if (!readdirSync(dir).every((name) => name === OUTPUT_PIPES[1] || name === OUTPUT_PIPES[2])) return;
    removeOutputPipes(dir);
    rmdirSync(dir);
  } catch {
    // gone already, or in use
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
  private open = 2;

  constructor(dir: string, onData: (channel: 1 | 2, chunk: Uint8Array) => void, onEnd: () => void) {
    this.readers = ([1, 2] as const).map((channel) => {
      const reader = openFifo(join(dir, OUTPUT_PIPES[channel]));
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
}
