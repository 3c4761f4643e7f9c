import { createHash, randomBytes, type Hash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { asHerdError, HerdError } from '../../protocol/errors.ts';

/**
 * Uploaded content by its sha256, so the same file to the same host travels once: blobs/ab/<sha256>,
 * written under a temporary name and renamed once its hash is known and checked. A blob's mtime is
 * when it was last used; unused ones go with the job retention (prune).
 */
export class BlobStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  pathOf(sha256: string): string {
    return join(this.dir, sha256.slice(0, 2), sha256);
  }

  has(sha256: string): boolean {
    return existsSync(this.pathOf(sha256));
  }

  /** Marks a blob used now (it outlives the retention counted from here). */
  touch(sha256: string): void {
    const now = new Date();
    try {
      utimesSync(this.pathOf(sha256), now, now);
    } catch {
      // gone: whoever needs it finds out when it opens it
    }
  }

  /**
   * A writer for one blob of `size` bytes; `expected` is the hash the client named, if any. Its
   * calls are synchronous, in writes of up to a MiB: for many small files a worker-thread round trip
   * per call cost ten times the writing (10,000 files of 4 KiB).
   */
  writer(size: number, expected?: string): BlobWriter {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.tmp-${randomBytes(8).toString('hex')}`);
    let fd: number;
    try {
      fd = openSync(tmp, 'wx', 0o600);
    } catch (err) {
      throw asHerdError(err);
    }
    return new BlobWriter(this, fd, tmp, size, expected);
  }

  /** Removes blobs unused for `olderThanMs`, and temporary files left by an agent that died. */
  prune(olderThanMs: number): number {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    let shards: string[];
    try {
      shards = readdirSync(this.dir);
    } catch {
      return 0;
    }
    for (const shard of shards) {
      const path = join(this.dir, shard);
      const names = shard.startsWith('.tmp-') ? [''] : safeList(path);
      for (const name of names) {
        const file = name === '' ? path : join(path, name);
        try {
          if (statSync(file).mtimeMs < cutoff) {
            unlinkSync(file);
            removed++;
          }
        } catch {
          // raced with a writer or another prune
        }
      }
    }
    return removed;
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Bytes gathered before one write to the blob's file. */
const WRITE_BATCH = 1024 * 1024;

/** Takes one blob's bytes in order, hashing as they come; `finish` checks and stores it. */
export class BlobWriter {
  readonly size: number;
  written = 0;
  private readonly hash: Hash = createHash('sha256');
  private readonly batch: Uint8Array;
  private batchFill = 0;

  constructor(
    private readonly store: BlobStore,
    private readonly fd: number,
    private readonly tmp: string,
    size: number,
    private readonly expected: string | undefined,
  ) {
    this.size = size;
    this.batch = new Uint8Array(Math.min(WRITE_BATCH, Math.max(size, 1)));
  }

  /**
   * Bytes that are this blob's (never more than it has left: the caller splits). Copied into writes
   * of a MiB: one write per arriving 64 KiB frame cost the agent more in handing each to a worker
   * thread than in writing it (and a runtime may reuse the buffer it read the frame into).
   */
  write(bytes: Uint8Array): void {
    if (this.written + bytes.length > this.size) throw new HerdError('INTERNAL', 'a blob was given more bytes than its size');
    this.hash.update(bytes);
    this.written += bytes.length;
    let offset = 0;
    while (offset < bytes.length) {
      const take = Math.min(bytes.length - offset, this.batch.length - this.batchFill);
      this.batch.set(bytes.subarray(offset, offset + take), this.batchFill);
      this.batchFill += take;
      offset += take;
      if (this.batchFill === this.batch.length) this.flush();
    }
    if (this.written === this.size) this.flush();
  }

  private flush(): void {
    let offset = 0;
    try {
      while (offset < this.batchFill) offset += writeSync(this.fd, this.batch, offset, this.batchFill - offset);
    } catch (err) {
      throw asHerdError(err);
    }
    this.batchFill = 0;
  }

  /** The blob's hash once all its bytes are in: checked against the one named, then stored by it. */
  finish(): string {
    closeSync(this.fd);
    const sha256 = this.hash.digest('hex');
    if (this.expected !== undefined && sha256 !== this.expected) {
      this.discardFile();
      throw new HerdError('INVALID_SPEC', `upload: a file's content does not match the sha256 it was sent with (${this.expected.slice(0, 12)}…, got ${sha256.slice(0, 12)}…): it changed while being sent`);
    }
    const path = this.store.pathOf(sha256);
    mkdirSync(join(this.store.dir, sha256.slice(0, 2)), { recursive: true, mode: 0o700 });
    renameSync(this.tmp, path);
    return sha256;
  }

  /** An upload that ended part way: its temporary file goes. */
  abandon(): void {
    try {
      closeSync(this.fd);
    } catch {
      // closed already
    }
    this.discardFile();
  }

  private discardFile(): void {
    try {
      unlinkSync(this.tmp);
    } catch {
      // gone
    }
  }
}
