import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { replaceFile } from '../../shared/replaceFile.ts';

/**
 * Writes one of herd's static executables into the state directory once: named by its hash (so
 * a changed one is a new file, and an existing one is the same bytes), mode 0555, created under a
 * temporary name without following a symlink, then renamed into place.
 */
export function installExecutable(stateDir: string, name: string, bytes: Uint8Array): { path: string } | { problem: string } {
  const path = join(stateDir, `${name}-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`);
  try {
    if (!existsSync(path)) replaceFile(path, bytes, 0o555);
  } catch (err) {
    return { problem: `cannot write ${name} to ${stateDir}: ${(err as Error).message}` };
  }
  return { path };
}

/** Removes an executable the host would not run, so the next agent tries again. */
export function removeExecutable(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // leave it
  }
}
