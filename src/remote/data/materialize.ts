import { chmodSync, chownSync, closeSync, constants, copyFileSync, lchownSync, mkdirSync, openSync, symlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { asHerdError, HerdError } from '../../protocol/errors.ts';
import { parentOf } from '../../protocol/uploads/manifest.ts';
import { BlobStore } from './blobStore.ts';
import { freeBytes } from './freeSpace.ts';
import type { Stage } from './stageStore.ts';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Room kept free beyond what an upload needs: the job's logs and the host's own writes. */
const SPARE_BYTES = 64 * 1024 * 1024;

/** NO_SPACE when `bytes` (plus a margin) would not fit where herd keeps its state; else null. */
export function spaceProblem(dir: string, bytes: number): HerdError | null {
  const free = freeBytes(dir);
  if (free === null || free >= bytes + SPARE_BYTES) return null;
  const mib = (n: number): string => `${(n / 1024 ** 2).toFixed(0)} MiB`;
  return new HerdError('NO_SPACE', `upload: the host needs ${mib(bytes)} for it and has ${mib(free)} free in ${dir} (beyond a margin of ${mib(SPARE_BYTES)})`, {
    hint: 'free space there (herd job prune -H HOST --older-than 1d removes finished jobs and their /work), or upload less',
  });
}

/**
 * Lays a staged tree into a job's fresh /work: directories, then each file copied from its blob
 * (a reflink where the file system has them) and symlinks as symlinks, all owned by the job's user.
 * The manifest was checked whole (every parent a directory named before), /work is new and nothing
 * runs in it yet, and every entry is created exclusively: nothing can lead a write elsewhere.
 * Directory modes come last, so a read-only directory can still be filled.
 */
export async function materialize(stage: Stage, blobs: BlobStore, work: string, owner: { uid: number; gid: number } | null): Promise<void> {
  mkdirSync(work, { mode: 0o755 });
  if (owner !== null) chownSync(work, owner.uid, owner.gid);
  const problem = spaceProblem(work, stage.entries.reduce((sum, e) => sum + (e.kind === 'file' ? e.size : 0), 0));
  if (problem !== null) throw problem;
  const dirs: Array<{ path: string; mode: number; mtimeMs?: number }> = [];
  const now = new Date();
  const stamp = (path: string, mtimeMs: number | undefined): void => {
    if (mtimeMs !== undefined) utimesSync(path, now, new Date(mtimeMs));
  };
  // Checked in the manifest already; again here, where a mistake would write outside the job.
  const made = new Set<string>(['']);
  try {
    let count = 0;
    for (const entry of stage.entries) {
      // Synchronous calls (a worker-thread round trip each cost more than the call), with a turn of
      // the event loop every 200 entries for the agent's other connections.
      if (++count % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
      if (!made.has(parentOf(entry.path)) || entry.path.split('/').includes('..')) {
        throw new HerdError('INVALID_SPEC', `upload: ${JSON.stringify(entry.path)} is not inside a directory this upload made`);
      }
      const path = join(work, entry.path);
      if (entry.kind === 'dir') {
        mkdirSync(path, { mode: 0o700 });
        made.add(entry.path);
        dirs.push({ path, mode: entry.mode, ...(entry.mtimeMs === undefined ? {} : { mtimeMs: entry.mtimeMs }) });
      } else if (entry.kind === 'symlink') {
        symlinkSync(entry.target, path);
        if (owner !== null) lchownSync(path, owner.uid, owner.gid);
        continue;
      } else {
        if (entry.size === 0) closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
        else {
          copyFileSync(blobs.pathOf(entry.sha256), path, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
          blobs.touch(entry.sha256);
        }
        chmodSync(path, entry.mode);
        stamp(path, entry.mtimeMs);
      }
      if (owner !== null) chownSync(path, owner.uid, owner.gid);
    }
    // Last, deepest first: filling a directory changes its mtime.
    for (const dir of dirs.reverse()) {
      chmodSync(dir.path, dir.mode);
      stamp(dir.path, dir.mtimeMs);
    }
  } catch (err) {
    const error = asHerdError(err, 'JOB_FAILED');
    if (error.code === 'NO_SPACE' || error.code === 'INVALID_SPEC') throw error;
    throw new HerdError('JOB_FAILED', `upload: cannot lay the uploaded files into the job's /work: ${error.message}`);
  }
}
