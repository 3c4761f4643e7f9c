import { chmodSync, chownSync, closeSync, copyFileSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseMountinfo } from '../system/mountinfo.ts';
import { HIDDEN_PATHS, renderFstab, type HiddenPath, type RootEntry, type SandboxPlan } from './sandboxPlan.ts';

/** The host's root directory as the plan needs it. */
export function readHostRoot(): RootEntry[] {
  return readdirSync('/', { withFileTypes: true }).flatMap((entry): RootEntry[] => {
    if (entry.isSymbolicLink()) return [{ name: entry.name, kind: 'symlink', target: readlinkSync(join('/', entry.name)) }];
    if (entry.isDirectory()) return [{ name: entry.name, kind: 'dir' }];
    if (entry.isFile()) return [{ name: entry.name, kind: 'file' }];
    return [];
  });
}

/** Which of HIDDEN_PATHS this host has (a symlink is left alone: it resolves inside the job's root). */
export function readHiddenPaths(): HiddenPath[] {
  return HIDDEN_PATHS.flatMap((path): HiddenPath[] => {
    try {
      const stat = lstatSync(path);
      if (stat.isDirectory()) return [{ path, kind: 'dir' }];
      if (stat.isSymbolicLink()) return [];
      return [{ path, kind: 'file' }];
    } catch {
      return [];
    }
  });
}

/** The names in the host's /proc other than processes: a job's fresh /proc has the same ones. */
export function readProcEntries(): Set<string> {
  return new Set(readdirSync('/proc').filter((name) => !/^\d+$/.test(name)));
}

/** The /etc files a job's root may cover with its own (see SandboxContext.etcFiles). */
export function readEtcFiles(): Set<string> {
  const files = new Set<string>();
  for (const name of ['hostname', 'hosts', 'resolv.conf']) {
    try {
      if (lstatSync(join('/etc', name)).isFile()) files.add(name);
    } catch {
      // absent
    }
  }
  return files;
}

/**
 * Where /etc/resolv.conf leads when it is a symlink into /run or /tmp (which jobs get fresh), and
 * what the file says now; null for a regular file or a link the job can follow in the host's root.
 */
export function readResolvLink(): { target: string; content: string } | null {
  try {
    if (!lstatSync('/etc/resolv.conf').isSymbolicLink()) return null;
    const target = realpathSync('/etc/resolv.conf');
    if (!/^\/(run|tmp)\//.test(target)) return null;
    return { target, content: readFileSync(target, 'utf8') };
  } catch {
    return null;
  }
}

export function readHostMounts(): ReturnType<typeof parseMountinfo> {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** Creates the skeleton and the fstab under the job directory; no mounts happen here. */
export function prepareSandbox(plan: SandboxPlan | null, jobDir: string, owner: { uid: number; gid: number } | null): void {
  // Host mode has no job root to make.
  if (plan === null) return;
  for (const entry of plan.skeleton) {
    const path = join(jobDir, entry.path);
    if (entry.kind === 'dir') mkdirSync(path, { recursive: true, mode: 0o755 });
    else if (entry.kind === 'symlink') symlinkSync(entry.target, path);
    else if (entry.kind === 'link') {
      try {
        linkSync(entry.from, path);
      } catch {
        copyFileSync(entry.from, path);
        chmodSync(path, 0o555);
      }
    }
    else {
      const fd = openSync(path, 'w', 0o644);
      if (entry.content !== undefined) writeSync(fd, entry.content);
      closeSync(fd);
    }
  }
  // The job's own user must be able to write its /work.
  if (owner !== null) chownSync(join(jobDir, 'work'), owner.uid, owner.gid);
  writeFileSync(join(jobDir, 'fstab'), renderFstab(plan.fstab), { mode: 0o600 });
}

/**
 * Removes what prepareSandbox made, entry by entry and never recursively: if a mount ever
 * showed through, rmdir fails on it instead of deleting what is behind it. /work is kept.
 */
export function removeSandbox(plan: SandboxPlan | null, jobDir: string): void {
  if (plan === null) return;
  const keep = new Set(['work']);
  for (const entry of [...plan.skeleton].reverse()) {
    if (keep.has(entry.path)) continue;
    const path = join(jobDir, entry.path);
    try {
      if (entry.kind === 'dir' && !lstatSync(path).isSymbolicLink()) rmdirSync(path);
      else unlinkSync(path);
    } catch {
      // already gone, or not empty: leave it
    }
  }
  try {
    unlinkSync(join(jobDir, 'fstab'));
  } catch {
    // already gone
  }
}
