import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { privateDirectory } from './privateDir.ts';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/** herd's cache on this machine: $XDG_CACHE_HOME/herd, else ~/.cache/herd. */
export function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'herd');
}

/**
 * A private directory for sockets: $XDG_RUNTIME_DIR/herd, else /tmp/herd-UID (short paths, as
 * unix socket paths are limited to 108 bytes). Made 0700; refused (STATE_UNSAFE) when it, or a
 * directory above it, could be swapped by someone else (see privateDir.ts).
 */
export function runtimeDir(): string {
  const uid = process.getuid?.() ?? 0;
  return privateDirectory(process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'herd') : join(tmpdir(), `herd-${uid}`));
}

/** The local agent's state directory, as bootstrap.sh chooses it. */
export function localStateDir(): string {
  if (process.env.HERD_STATE_DIR) return process.env.HERD_STATE_DIR;
  if (process.getuid?.() === 0) return '/var/lib/herd';
  return cacheDir();
}

/** A JSON file of the cache (agents.json, jobs.json, last-run.json); undefined when missing or unreadable. */
export function readCache(name: string): unknown {
  try {
    return JSON.parse(readFileSync(join(cacheDir(), name), 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Replaces a JSON file of the cache atomically, mode 0600. Concurrent writers may lose an entry
 * and a read-only cache writes nothing: the cache only saves work, it is never the truth.
 */
export function writeCache(name: string, value: unknown): void {
  const path = join(cacheDir(), name);
  try {
    mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(value)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  } catch {
    // see above
  }
}
