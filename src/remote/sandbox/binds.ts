import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import type { JobBind } from '../../protocol/messages.ts';

/** A --bind checked against the host: what its source is, and whether the job's side is made fresh. */
export interface PlannedBind extends JobBind {
  kind: 'file' | 'dir';
  /** Under /work, /tmp or /run: the target is made in the job's own directories; else it must exist in the host's root. */
  makeTarget: boolean;
}

/** Where a job's side may be made: the job's own writable places. */
const FRESH = ['/work', '/tmp', '/run'];
/** The job's kernel interfaces and devices are herd's: nothing is bound over them. */
const FORBIDDEN = ['/proc', '/sys', '/dev'];

const under = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);

function refuse(bind: JobBind, why: string): never {
  throw new HerdError('INVALID_SPEC', `--bind ${bind.host}:${bind.job}: ${why}`);
}

function kindOf(path: string): 'file' | 'dir' | null {
  try {
    const s = statSync(path);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : null;
  } catch {
    return null;
  }
}

/**
 * Checks each bind on this host (the edge: it looks at the host's files): an absolute source that
 * exists and is a file or directory, outside herd's state (the host key); an absolute job path,
 * not over /proc, /sys or /dev, that is new under /work, /tmp or /run, or else exists in the
 * host's root with the source's kind (the job's root is the host's, read-only, and cannot be
 * given new entries).
 */
export function checkBinds(binds: readonly JobBind[], stateDir: string): PlannedBind[] {
  const targets = new Set<string>();
  return binds.map((bind) => {
    for (const [side, path] of [['host', bind.host], ['job', bind.job]] as const) {
      if (!path.startsWith('/') || posix.normalize(path) !== path || path.includes('\n')) refuse(bind, `the ${side} path must be absolute and normal (no .., no trailing /)`);
    }
    if (bind.job === '/') refuse(bind, 'the job\'s root is the host\'s, read-only; bind below it');
    if (FORBIDDEN.some((d) => under(bind.job, d))) refuse(bind, `${bind.job} is the job's own (herd mounts /proc, /sys and /dev)`);
    if (under(bind.host, stateDir) || under(stateDir, bind.host)) refuse(bind, `herd's state (${stateDir}) holds the host key and every job's files; it is never bound into a job`);
    if (targets.has(bind.job)) refuse(bind, `${bind.job} is bound twice`);
    targets.add(bind.job);
    const kind = kindOf(bind.host);
    if (kind === null) refuse(bind, `${bind.host} is not a file or directory on this host`);
    const makeTarget = FRESH.some((d) => bind.job !== d && under(bind.job, d));
    if (!makeTarget) {
      const there = kindOf(bind.job);
      if (there !== kind) refuse(bind, `${bind.job} must be under /work, /tmp or /run, or be a ${kind === 'dir' ? 'directory' : 'file'} that exists on the host (the job's root is the host's, read-only)`);
    }
    if (kind === 'file' && makeTarget && !under(bind.job, '/work')) refuse(bind, 'a file is bound under /work, or over a file that exists on the host');
    return { ...bind, kind, makeTarget };
  });
}
