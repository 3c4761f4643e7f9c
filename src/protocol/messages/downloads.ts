import { count, fail, isObject, str, stringArray, type Validators } from './check.ts';
import { parseEntry, type UploadEntry } from '../uploads/manifest.ts';

/**
 * Reads a job's files (docs/data.md): `path` in its /work, while it runs or after it ended. The
 * host answers with one `read-entry` per directory, file and symlink, parents first; a file's
 * entry is followed by its bytes on stdout (channel 1), up to the next message; then `read-done`.
 */
export interface JobReadRequest { t: 'job-read'; id: string; path: string }
/** A file's `size` is what it had when opened; the bytes that follow are what it has (a running job may change it). */
export interface ReadEntry { t: 'read-entry'; entry: UploadEntry }
/** `skipped`: what the tree held that is not a directory, file or symlink (a FIFO, a socket), by path. */
export interface ReadDone { t: 'read-done'; files: number; bytes: number; skipped: string[] }

export type DownloadMessage = JobReadRequest | ReadEntry | ReadDone;

export const DOWNLOAD_VALIDATORS: Validators<DownloadMessage> = {
  'job-read'(o) {
    str(o, 'id');
    str(o, 'path');
    if ((o.path as string).length > 4096) fail('job-read.path is over 4096 characters');
  },
  'read-entry'(o) {
    if (!isObject(o.entry)) fail('read-entry.entry must be an object');
    parseEntry(o.entry);
  },
  'read-done'(o) {
    count(o, 'files');
    count(o, 'bytes');
    stringArray(o, 'skipped', 1000);
  },
};
