import { writeFileSync } from 'node:fs';
import { HerdError } from '../../protocol/errors.ts';
import { readText } from '../cgroups/facts.ts';

/**
 * Where a root agent's jobs live on the host's uid and gid lines: job uid N is host uid
 * JOB_ID_BASE + N, for N < JOB_ID_COUNT. 0x70000000 lies above what distributions hand out to users
 * and /etc/subuid (from 100000 up), above systemd-nspawn's "pick" range (which ends at 0x6FFFFFFF)
 * and below systemd's foreign range (0x7FFE0000) and the sign bit. One range serves every job of a
 * host: jobs never see each other's files or processes (separate /work, /tmp, PID namespaces), and
 * volumes shared between jobs keep one owner.
 */
export const JOB_ID_BASE = 0x7000_0000;
export const JOB_ID_COUNT = 65536;

export interface IdRange {
  base: number;
  count: number;
}

export const JOB_IDS: IdRange = { base: JOB_ID_BASE, count: JOB_ID_COUNT };

/** uid_map/gid_map lines: inside 0..count-1 is outside base..base+count-1. */
export function idMapLine(range: IdRange): string {
  return `0 ${range.base} ${range.count}\n`;
}

function overlaps(range: IdRange, first: number, count: number): boolean {
  return first < range.base + range.count && range.base < first + count;
}

/**
 * What already claims part of the range on this host: a user or group with such an id, or an
 * /etc/subuid or /etc/subgid allocation over it. A job's root must own nothing on the host.
 */
export function rangeConflicts(range: IdRange, read: (path: string) => string | null): string[] {
  const found: string[] = [];
  for (const [path, field] of [['/etc/passwd', 2], ['/etc/group', 2]] as const) {
    for (const line of (read(path) ?? '').split('\n')) {
      const parts = line.split(':');
      const id = Number(parts[field]);
      if (parts.length > field && Number.isInteger(id) && overlaps(range, id, 1)) found.push(`${path}: ${parts[0]} (${id})`);
    }
  }
  for (const path of ['/etc/subuid', '/etc/subgid']) {
    for (const line of (read(path) ?? '').split('\n')) {
      const [owner, first, count] = line.split(':');
      if (owner !== undefined && overlaps(range, Number(first), Number(count))) found.push(`${path}: ${owner} (${first}+${count})`);
    }
  }
  return found;
}

/** The range, checked once per agent; ISOLATION_UNSUPPORTED when the host already uses part of it. */
export function checkedJobIds(): IdRange {
  const conflicts = rangeConflicts(JOB_IDS, readText);
  if (conflicts.length > 0) {
    throw new HerdError(
      'ISOLATION_UNSUPPORTED',
      `the uids and gids herd maps job users to (${JOB_ID_BASE}-${JOB_ID_BASE + JOB_ID_COUNT - 1}) are in use on this host: ${conflicts.slice(0, 3).join('; ')}`,
      { hint: 'free that range (jobs must own nothing on the host), or run jobs from a non-root login' },
    );
  }
  return JOB_IDS;
}

/**
 * Maps a process that has just made its user namespace. `procDir` is its /proc entry; the agent,
 * root in the parent namespace, may write any range (no newuidmap, no /etc/subuid needed).
 */
export function writeIdMaps(procDir: string, range: IdRange): void {
  writeFileSync(`${procDir}/uid_map`, idMapLine(range));
  writeFileSync(`${procDir}/gid_map`, idMapLine(range));
}
