import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';

/** Bytes an unprivileged writer may still use on the file system holding `dir`; null when unknown. */
export function freeBytes(dir: string): number | null {
  try {
    const fs = statfsSync(dir);
    return Number(fs.bavail) * Number(fs.bsize);
  } catch {
    // runtimes without statfs: df says the same
  }
  try {
    const line = execFileSync('df', ['-Pk', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[1] ?? '';
    const kib = Number(line.split(/\s+/)[3]);
    return Number.isFinite(kib) ? kib * 1024 : null;
  } catch {
    return null;
  }
}
