import { readCache, writeCache } from '../state/localState.ts';
import type { LocalFile } from './uploadSet.ts';

/*
 * The sha256 of files uploaded before, by device and inode, valid while size, mtime and ctime are
 * unchanged (what rsync and git go by): a second run with the same files names their hashes
 * without reading them, and hosts that hold them are sent nothing. A wrong entry cannot put wrong
 * content in a job: the host checks every byte it receives against the hash, and one it already
 * has was checked when it came.
 */
const FILE = 'upload-hashes.json';
/** Entries kept; the oldest go first. */
const MAX_ENTRIES = 200_000;

type Entry = [size: string, mtimeNs: string, ctimeNs: string, sha256: string];

export class HashCache {
  private readonly entries: Map<string, Entry>;
  private changed = false;

  private constructor(entries: Map<string, Entry>) {
    this.entries = entries;
  }

  static load(): HashCache {
    const raw = readCache(FILE);
    const entries = new Map<string, Entry>();
    if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
      for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
        if (Array.isArray(value) && value.length === 4 && value.every((v) => typeof v === 'string')) entries.set(key, value as Entry);
      }
    }
    return new HashCache(entries);
  }

  private static key(file: LocalFile): string {
    return `${file.stat.dev}:${file.stat.ino}`;
  }

  lookup(file: LocalFile): string | undefined {
    const entry = this.entries.get(HashCache.key(file));
    if (entry === undefined) return undefined;
    const [size, mtime, ctime, sha256] = entry;
    return size === String(file.stat.size) && mtime === String(file.stat.mtimeNs) && ctime === String(file.stat.ctimeNs) ? sha256 : undefined;
  }

  remember(file: LocalFile, sha256: string): void {
    const key = HashCache.key(file);
    this.entries.delete(key);
    this.entries.set(key, [String(file.stat.size), String(file.stat.mtimeNs), String(file.stat.ctimeNs), sha256]);
    this.changed = true;
  }

  save(): void {
    if (!this.changed) return;
    const all = [...this.entries];
    writeCache(FILE, Object.fromEntries(all.slice(Math.max(0, all.length - MAX_ENTRIES))));
    this.changed = false;
  }
}
