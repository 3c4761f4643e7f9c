import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HerdError } from '../protocol/errors.ts';

/** herd's cache on this machine: $XDG_CACHE_HOME/herd, else ~/.cache/herd. */
export function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'herd');
}

/**
 * A private directory for sockets: $XDG_RUNTIME_DIR/herd, else /tmp/herd-UID (short paths, as
 * unix socket paths are limited to 108 bytes). Made 0700; refused if someone else owns it.
 */
export function runtimeDir(): string {
  const uid = process.getuid?.() ?? 0;
  const dir = process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'herd') : join(tmpdir(), `herd-${uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  if (st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new HerdError('CONFIG', `${dir} is not a private directory of this user (owner ${st.uid}, mode ${(st.mode & 0o777).toString(8)})`, {
      hint: `remove it, or set XDG_RUNTIME_DIR to a directory only you can use`,
    });
  }
  return dir;
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
