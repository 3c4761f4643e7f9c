import { spawnSync } from 'node:child_process';
import { constants, closeSync, existsSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { seccompLoader } from './loader.ts';

/** Where the job's seccomp loader is, inside the job's root (a hard link of the agent's copy). */
export const SECCOMP_IN_JOB = '/.herd-seccomp';

export type SeccompSupport = { path: string } | { problem: string };

/**
 * Writes herd-seccomp into the state directory once (named by its hash, 0555, created without
 * following a symlink) and checks that this host loads it: run `/bin/true` through it.
 */
export function installSeccomp(stateDir: string): SeccompSupport {
  if (process.arch !== 'x64') return { problem: `no seccomp filter for ${process.arch} hosts yet (x86_64 only)` };
  const bytes = seccompLoader();
  const path = join(stateDir, `herd-seccomp-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`);
  try {
    if (!existsSync(path)) {
      const temp = `${path}.${process.pid}`;
      const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o555);
      try {
        writeSync(fd, bytes);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, path);
    }
  } catch (err) {
    return { problem: `cannot write the seccomp loader to ${stateDir}: ${(err as Error).message}` };
  }
  const probe = spawnSync(path, ['/bin/true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
  if (probe.status === 0) return { path };
  try {
    unlinkSync(path);
  } catch {
    // leave it
  }
  const said = probe.stderr?.toString().trim() || probe.error?.message || `status ${probe.status}`;
  return { problem: `this host does not load herd's seccomp filter: ${said}` };
}
