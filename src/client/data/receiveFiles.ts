import { randomBytes } from 'node:crypto';
import { constants, lstatSync, mkdirSync, type Stats } from 'node:fs';
import { chmod, mkdir, open, rename, rm, symlink, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import { parentOf, uploadPathProblem, type UploadEntry } from '../../protocol/uploads/manifest.ts';
import type { HostConnection } from '../connection/hostConnection.ts';

/** What one host's read brought: files, bytes, and what the job's tree held that cannot be copied. */
export interface ReceiveReport {
  files: number;
  bytes: number;
  skipped: string[];
}

/**
 * Writes what a host sends of a job's files under `base`, and nowhere else, whatever the job made
 * of its tree: each path checked (relative, no "..", no control characters), each parent a directory
 * this read made or found as a real directory (never through a symlink, neither the host's nor one
 * already here), each file written beside its place and renamed over it (an existing symlink there
 * is replaced, not followed). Modes as the host gives them, setuid and setgid never.
 */
export function receiveJobFiles(connection: HostConnection, jobId: string, path: string, base: string): Promise<ReceiveReport> {
  mkdirSync(base, { recursive: true });
  const dirs = new Set<string>(['']);
  const modes: Array<{ path: string; mode: number; mtimeMs?: number }> = [];
  let current: { handle: FileHandle; tmp: string; final: string; mode: number; mtimeMs?: number } | null = null;
  let chain: Promise<void> = Promise.resolve();
  let failure: HerdError | null = null;
  const queue = (step: () => Promise<void>): void => {
    chain = chain.then(async () => {
      if (failure === null) await step();
    }).catch((err: unknown) => {
      failure ??= err instanceof HerdError ? err : new HerdError('INTERNAL', `cannot write the job's files under ${base}: ${(err as Error).message}`);
    });
  };
  const finishFile = async (): Promise<void> => {
    if (current === null) return;
    const file = current;
    current = null;
    await file.handle.chmod(file.mode);
    if (file.mtimeMs !== undefined) await file.handle.utimes(new Date(), new Date(file.mtimeMs));
    await file.handle.close();
    await rename(file.tmp, file.final);
  };
  const begin = async (entry: UploadEntry): Promise<void> => {
    await finishFile();
    const problem = uploadPathProblem(entry.path);
    if (problem !== null) throw new HerdError('PROTOCOL', `the host sent ${JSON.stringify(entry.path)}, which has ${problem}: nothing more is written`);
    const parent = parentOf(entry.path);
    if (!dirs.has(parent)) throw new HerdError('PROTOCOL', `the host sent ${JSON.stringify(entry.path)} outside the directories it sent before it: nothing more is written`);
    const target = join(base, entry.path);
    const existing = lstatOrNull(target);
    if (entry.kind === 'dir') {
      if (existing === null) await mkdir(target, { mode: 0o700 });
      else if (!existing.isDirectory() || existing.isSymbolicLink()) throw new HerdError('INVALID_SPEC', `${target} exists and is not a directory: move it away, or copy somewhere else`);
      dirs.add(entry.path);
      modes.push({ path: target, mode: entry.mode, ...(entry.mtimeMs === undefined ? {} : { mtimeMs: entry.mtimeMs }) });
    } else if (entry.kind === 'symlink') {
      if (existing?.isDirectory() === true) throw new HerdError('INVALID_SPEC', `${target} is a directory here and a symlink in the job: move it away, or copy somewhere else`);
      if (existing !== null) await unlink(target);
      await symlink(entry.target, target);
    } else {
      if (existing?.isDirectory() === true) throw new HerdError('INVALID_SPEC', `${target} is a directory here and a file in the job: move it away, or copy somewhere else`);
      const tmp = join(base, parent, `.herd-${randomBytes(6).toString('hex')}`);
      const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      current = { handle, tmp, final: target, mode: entry.mode, ...(entry.mtimeMs === undefined ? {} : { mtimeMs: entry.mtimeMs }) };
    }
  };
  return new Promise((resolve, reject) => {
    let done: ReceiveReport | null = null;
    connection
      .requestStream({ t: 'job-read', id: jobId, path }, {
        message: (message) => {
          if (message.t === 'read-entry') {
            const entry = message.entry;
            queue(() => begin(entry));
            return 'more';
          }
          if (message.t === 'read-done') {
            done = { files: message.files, bytes: message.bytes, skipped: message.skipped };
            return 'end';
          }
          throw new HerdError('PROTOCOL', `unexpected "${message.t}" while reading a job's files`);
        },
        data: (_channel, bytes, ack) => {
          queue(async () => {
            if (current === null) throw new HerdError('PROTOCOL', 'the host sent bytes outside a file');
            await current.handle.write(bytes);
          });
          void chain.then(ack);
        },
      })
      .then(async () => {
        queue(finishFile);
        // Directory modes and times last, deepest first: a read-only directory is filled before it
        // closes, and filling a directory changes its mtime.
        queue(async () => {
          for (const dir of modes.reverse()) {
            await chmod(dir.path, dir.mode);
            if (dir.mtimeMs !== undefined) await utimes(dir.path, new Date(), new Date(dir.mtimeMs));
          }
        });
        await chain;
        if (failure !== null) throw failure;
        resolve(done!);
      })
      .catch(async (err: unknown) => {
        await chain;
        const open = current as { handle: FileHandle; tmp: string } | null;
        if (open !== null) {
          await open.handle.close().catch(() => {});
          await rm(open.tmp, { force: true });
        }
        reject(failure ?? err);
      });
  });
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}
