import { open, type FileHandle } from 'node:fs/promises';
import { createHash, type Hash } from 'node:crypto';
import { HerdError } from '../../protocol/errors.ts';
import type { HashCache } from './hashCache.ts';
import type { LocalFile } from './uploadSet.ts';

/** Bytes read at a time, and how many chunks the fastest host may be ahead of the slowest. */
const CHUNK = 256 * 1024;
const WINDOW = 32;
/** Files this small stay in memory once read, for the hosts that come to them later, up to RETAIN_BYTES in all. */
const RETAIN_FILE_BYTES = 16 * 1024 * 1024;
const RETAIN_BYTES = 64 * 1024 * 1024;
/** How long a larger file's first chunks wait for the run's other hosts before the first ones go on alone. */
const GATHER_MS = 2000;

/** One host of the run, as the shared reads know it: its wants once it has them. */
export interface ReadingHost {
  wants: Set<LocalFile> | null;
}

/**
 * One read of each local file for every host that wants it (a fan-out reads each file once): the
 * hosts sending a file at the same time share its chunks, the fastest at most WINDOW chunks
 * (8 MiB) ahead of the slowest, so memory stays bounded whatever the file's size; files of up to
 * 16 MiB stay in memory (64 MiB in all, the oldest dropped first) for hosts that reach them later.
 * A host that comes to a larger file after its first chunk is gone reads it again on its own.
 */
export class SharedReads {
  private readonly open = new Map<LocalFile, SharedFile>();
  /** The hosts of the run between their connection and the end of their upload. */
  private readonly hosts = new Set<ReadingHost>();

  constructor(private readonly cache: HashCache) {}

  /** A host begins (it connects): a larger file's first chunks wait for it a moment. */
  hostStarting(): ReadingHost {
    const host: ReadingHost = { wants: null };
    this.hosts.add(host);
    return host;
  }

  /** The host's want list arrived: it waits for none of the other files. */
  hostWants(host: ReadingHost, files: readonly LocalFile[]): void {
    host.wants = new Set(files);
    for (const shared of this.open.values()) shared.nudge();
  }

  /** The host is done with uploading (or failed): nobody waits for it any more. */
  hostDone(host: ReadingHost): void {
    this.hosts.delete(host);
    for (const shared of this.open.values()) shared.nudge();
  }

  /** Hosts that may still come to `file` and have not joined `shared` yet. */
  private awaited(file: LocalFile, shared: SharedFile): number {
    let count = 0;
    for (const host of this.hosts) if ((host.wants === null || host.wants.has(file)) && !shared.joined.has(host)) count++;
    return count;
  }

  /** The file's bytes, in chunks, for one host. */
  async *chunks(file: LocalFile, host: ReadingHost): AsyncGenerator<Uint8Array> {
    let shared = this.open.get(file);
    if (shared === undefined || !shared.atStart()) {
      const created: SharedFile = new SharedFile(file, this.cache, file.entry.size <= RETAIN_FILE_BYTES, () => this.awaited(file, created));
      shared = created;
      this.open.set(file, shared);
    } else {
      // Most recently used last: the first in the map are dropped first.
      this.open.delete(file);
      this.open.set(file, shared);
    }
    const reader = shared.join(host);
    try {
      for (let k = 0; ; k++) {
        const chunk = await shared.chunk(k, reader);
        if (chunk === null) return;
        yield chunk;
      }
    } finally {
      shared.leave(reader);
      if (shared.retained() && !shared.counted) {
        shared.counted = true;
        this.keptSum += shared.keptBytes();
      }
      if (shared.idle() && !shared.retained()) this.open.delete(file);
      this.trim();
    }
  }

  /** Bytes of the files kept whole, counted once each when read. */
  private keptSum = 0;

  /** Drops idle kept files, the least recently used first, while more than RETAIN_BYTES are kept. */
  private trim(): void {
    for (const [file, shared] of this.open) {
      if (this.keptSum <= RETAIN_BYTES) return;
      if (!shared.idle() || !shared.retained()) continue;
      this.keptSum -= shared.keptBytes();
      this.open.delete(file);
    }
  }
}

interface Reader {
  /** The next chunk this reader takes. */
  position: number;
}

class SharedFile {
  private handle: FileHandle | null = null;
  /** Chunks from `base` on, still wanted by a reader behind. */
  private readonly kept: Uint8Array[] = [];
  private keptTotal = 0;
  private base = 0;
  private readers = new Set<Reader>();
  private hash: Hash | null = createHash('sha256');
  private readBytes = 0;
  private ended = false;
  private failure: Error | null = null;
  private reading: Promise<void> | null = null;
  private waiters: Array<() => void> = [];
  /** The hosts that came to this read of the file. */
  readonly joined = new Set<ReadingHost>();
  /** Its bytes are in the run's count of what is kept. */
  counted = false;
  private gatherUntil = 0;
  private gatherTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly file: LocalFile,
    private readonly cache: HashCache,
    /** Small: every chunk is kept, for readers to come. */
    private readonly retain: boolean,
    /** Hosts that may still come to it: its first chunks wait for them, up to GATHER_MS. */
    private readonly awaited: () => number,
  ) {}

  /** Something changed in who may still come: look again. */
  nudge(): void {
    this.release();
  }

  atStart(): boolean {
    return this.base === 0 && this.failure === null;
  }

  /** Read whole and kept in memory. */
  retained(): boolean {
    return this.retain && this.ended && this.failure === null;
  }

  keptBytes(): number {
    return this.keptTotal;
  }

  idle(): boolean {
    return this.readers.size === 0;
  }

  join(host: ReadingHost): Reader {
    const reader = { position: 0 };
    this.readers.add(reader);
    this.joined.add(host);
    return reader;
  }

  leave(reader: Reader): void {
    this.readers.delete(reader);
    this.release();
    if (this.readers.size === 0) {
      void this.handle?.close().catch(() => {});
      if (this.gatherTimer !== null) clearTimeout(this.gatherTimer);
    }
  }

  /** Chunk k (null past the end), read if no host has asked for it yet; waits while the window is full. */
  async chunk(k: number, reader: Reader): Promise<Uint8Array | null> {
    for (;;) {
      if (this.failure !== null) throw this.failure;
      if (k < this.base + this.kept.length) {
        reader.position = k + 1;
        const chunk = this.kept[k - this.base]!;
        this.release();
        return chunk;
      }
      if (this.ended) {
        reader.position = k + 1;
        this.release();
        return null;
      }
      if (!this.retain && this.kept.length >= WINDOW) await new Promise<void>((resolve) => this.waiters.push(resolve));
      else await (this.reading ??= this.readNext().finally(() => (this.reading = null)));
    }
  }

  private async readNext(): Promise<void> {
    try {
      if (this.handle === null) {
        this.handle = await open(this.file.source, 'r');
        this.gatherUntil = Date.now() + GATHER_MS;
        this.gatherTimer = setTimeout(() => this.release(), GATHER_MS);
        (this.gatherTimer as { unref?: () => void }).unref?.();
      }
      // Exactly the manifest's size is sent (the host counts on it): what a file grew by since is not.
      const left = this.file.entry.size - this.readBytes;
      if (left === 0) {
        this.ended = true;
        if (this.hash !== null) this.cache.remember(this.file, this.hash.digest('hex'));
        this.hash = null;
        return;
      }
      const buffer = new Uint8Array(Math.min(CHUNK, left));
      const { bytesRead } = await this.handle.read(buffer, 0, buffer.length, this.readBytes);
      if (bytesRead === 0) {
        throw new HerdError('INVALID_SPEC', `--upload: ${this.file.source} shrank while it was being uploaded (${this.file.entry.size} bytes when listed, ${this.readBytes} now)`, { hint: 'upload it once it no longer changes' });
      }
      const chunk = buffer.subarray(0, bytesRead);
      this.hash?.update(chunk);
      this.readBytes += bytesRead;
      this.kept.push(chunk);
      this.keptTotal += bytesRead;
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.wake();
    }
  }

  /** Drops the chunks every reader has passed, and lets the fastest go on. */
  private release(): void {
    if (this.retain) return this.wake();
    let slowest = Infinity;
    for (const r of this.readers) slowest = Math.min(slowest, r.position);
    // While hosts of the run may still come, the start stays (the window bounds it).
    if (this.base === 0 && Date.now() < this.gatherUntil && this.awaited() > 0) slowest = 0;
    if (slowest === Infinity) slowest = this.base + this.kept.length;
    while (this.base < slowest && this.kept.length > 0) {
      this.keptTotal -= this.kept.shift()!.length;
      this.base++;
    }
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
