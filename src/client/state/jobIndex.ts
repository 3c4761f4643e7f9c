import { readCache, writeCache } from './localState.ts';

/** Jobs remembered, newest last; older ones are forgotten (the host still has them). */
const MAX_ENTRIES = 2000;

/**
 * Which host each job this user started went to (jobs.json in herd's cache), so
 * `herd job status ID` finds it without -H. Only a convenience: -H always wins, and a lost or
 * stale index costs nothing but a -H.
 */
const FILE = 'jobs.json';

type Entry = [id: string, host: string];

function readAll(): Entry[] {
  const parsed = readCache(FILE);
  return Array.isArray(parsed) ? (parsed.filter((e) => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string') as Entry[]) : [];
}

export function rememberJobs(jobs: ReadonlyArray<{ id: string; host: string }>): void {
  if (jobs.length === 0) return;
  writeCache(FILE, [...readAll(), ...jobs.map((j): Entry => [j.id, j.host])].slice(-MAX_ENTRIES));
}

/** The hosts of remembered jobs whose id starts with `prefix`. */
export function hostsOfJob(prefix: string): string[] {
  return [...new Set(readAll().filter(([id]) => id.startsWith(prefix)).map(([, host]) => host))];
}

/** The ids of remembered jobs, newest first (for shell completion). */
export function recentJobIds(limit = 50): string[] {
  return [...new Set(readAll().map(([id]) => id).reverse())].slice(0, limit);
}
