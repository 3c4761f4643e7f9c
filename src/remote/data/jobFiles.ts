import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { HerdError } from '../../protocol/errors.ts';
import { UPLOAD_MODE_MASK, uploadPathProblem, type UploadEntry } from '../../protocol/uploads/manifest.ts';

/** Bytes read from a job's file at a time. */
const CHUNK = 256 * 1024;
/** Paths of FIFOs, sockets and devices named in a read's answer at most. */
const MAX_SKIPPED = 100;

/** A directory held open: what is under it is reached through /proc/self/fd, never by a path a job could change. */
const under = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;

/**
 * Reads a tree of a job's /work for the client, as the agent (root) but without following anything
 * the job made: each directory is opened with O_NOFOLLOW and held, each name in it is looked up
 * through /proc/self/fd/N (what openat does: the job renaming or swapping a directory for a symlink
 * meanwhile changes nothing), files are opened O_NOFOLLOW and checked to be regular files through
 * their descriptor. A symlink is sent as a symlink, its target never read.
 */
export class JobFileWalk {
  /** Open directory descriptors, with the path in the answer of what they hold. */
  private readonly dirs: Array<{ fd: number; path: string; names: string[] }> = [];
  private file: { fd: number; left: number; offset: number } | null = null;
  readonly skipped: string[] = [];
  files = 0;
  bytes = 0;
  private first: { entry: UploadEntry; fd: number | null } | null;

  /** `work` is the job's /work on the host; `rel` the path in it (pathInWork). */
  constructor(work: string, rel: string) {
    let fd = openSync(work, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    const parts = rel === '' ? [] : rel.split('/');
    try {
      for (const part of parts.slice(0, -1)) {
        const next = openNoFollow(under(fd, part), true, rel);
        closeSync(fd);
        fd = next;
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    if (parts.length === 0) {
      this.dirs.push({ fd, path: '', names: readdirSync(under(fd, '.')).sort() });
      this.first = null;
      return;
    }
    const name = parts.at(-1)!;
    try {
      this.first = this.entryOf(fd, name, name);
    } finally {
      closeSync(fd);
    }
    if (this.first === null) throw new HerdError('INVALID_SPEC', `${rel} in the job's /work is not a file, directory or symlink`);
  }

  /**
   * The next entry, parents first; a file's is followed by its bytes (readFile). null when the
   * walk is over.
   */
  next(): UploadEntry | null {
    if (this.first !== null) {
      const { entry, fd } = this.first;
      this.first = null;
      this.begin(entry, fd);
      return entry;
    }
    for (;;) {
      const top = this.dirs.at(-1);
      if (top === undefined) return null;
      const name = top.names.shift();
      if (name === undefined) {
        closeSync(top.fd);
        this.dirs.pop();
        continue;
      }
      const path = top.path === '' ? name : `${top.path}/${name}`;
      const found = this.entryOf(top.fd, name, path);
      if (found === null) continue;
      this.begin(found.entry, found.fd);
      return found.entry;
    }
  }

  /** The next piece of the current file's bytes, or null when it has been read (or it shrank). */
  readFile(): Uint8Array | null {
    const file = this.file;
    if (file === null) return null;
    const buffer = new Uint8Array(Math.min(CHUNK, file.left));
    const n = file.left === 0 ? 0 : readSync(file.fd, buffer, 0, buffer.length, file.offset);
    if (n === 0) {
      closeSync(file.fd);
      this.file = null;
      return null;
    }
    file.offset += n;
    file.left -= n;
    this.bytes += n;
    return buffer.subarray(0, n);
  }

  close(): void {
    if (this.file !== null) closeSync(this.file.fd);
    this.file = null;
    for (const dir of this.dirs.splice(0)) closeSync(dir.fd);
  }

  private begin(entry: UploadEntry, fd: number | null): void {
    if (entry.kind === 'dir') this.dirs.push({ fd: fd!, path: entry.path, names: readdirSync(under(fd!, '.')).sort() });
    else if (entry.kind === 'file') {
      this.files++;
      this.file = { fd: fd!, left: entry.size, offset: 0 };
    }
  }

  /** What `name` in the directory `dirFd` is, opened where it is a directory or file; null (skipped) otherwise. */
  private entryOf(dirFd: number, name: string, path: string): { entry: UploadEntry; fd: number | null } | null {
    if (uploadPathProblem(path) !== null) return this.skip(path);
    let stat: Stats;
    try {
      stat = lstatSync(under(dirFd, name));
    } catch {
      return null; // gone meanwhile
    }
    if (stat.isSymbolicLink()) return { entry: { kind: 'symlink', path, target: readlinkSync(under(dirFd, name)) }, fd: null };
    if (!stat.isDirectory() && !stat.isFile()) return this.skip(path);
    let fd: number;
    try {
      fd = openNoFollow(under(dirFd, name), stat.isDirectory(), path);
    } catch {
      return null; // swapped or gone meanwhile: not what was listed
    }
    // What was opened is what counts (it may have been swapped since the lstat).
    const opened = fstatSync(fd);
    const mode = opened.mode & UPLOAD_MODE_MASK;
    const mtimeMs = Math.floor(opened.mtimeMs);
    if (opened.isDirectory()) return { entry: { kind: 'dir', path, mode, mtimeMs }, fd };
    if (opened.isFile()) return { entry: { kind: 'file', path, mode, size: opened.size, mtimeMs }, fd };
    closeSync(fd);
    return this.skip(path);
  }

  private skip(path: string): null {
    if (this.skipped.length < MAX_SKIPPED) this.skipped.push(path);
    return null;
  }
}

function openNoFollow(path: string, directory: boolean, shown: string): number {
  try {
    // O_NONBLOCK: a FIFO swapped in cannot hang the open; it is refused by the fstat after.
    return openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | (directory ? constants.O_DIRECTORY : 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new HerdError('INVALID_SPEC', `${shown}: a symlink or a file where a directory was wanted in the job's /work (herd never follows the job's symlinks)`);
    if (code === 'ENOENT') throw new HerdError('INVALID_SPEC', `${shown}: no such file or directory in the job's /work`);
    throw err;
  }
}
