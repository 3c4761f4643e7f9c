import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Jobs remembered, newest last; older ones are forgotten (the host still has them). */
const MAX_ENTRIES = 2000;

/**
 * Which host each job this user started went to, so `herd job status ID` finds it without -H.
 * Only a convenience: -H always wins, and a lost or stale index costs nothing but a -H.
 */
export function jobIndexPath(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'herd', 'jobs.json');
}

type Entry = [id: string, host: string];

function readAll(): Entry[] {
  try {
    const parsed = JSON.parse(readFileSync(jobIndexPath(), 'utf8')) as unknown;
    return Array.isArray(parsed) ? (parsed.filter((e) => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string') as Entry[]) : [];
  } catch {
    return [];
  }
}

export function rememberJobs(jobs: ReadonlyArray<{ id: string; host: string }>): void {
  if (jobs.length === 0) return;
  const all = [...readAll(), ...jobs.map((j): Entry => [j.id, j.host])].slice(-MAX_ENTRIES);
  const path = jobIndexPath();
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(all)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  } catch {
    // a read-only cache only means -H must be given
  }
}

/** The hosts of remembered jobs whose id starts with `prefix`. */
export function hostsOfJob(prefix: string): string[] {
  return [...new Set(readAll().filter(([id]) => id.startsWith(prefix)).map(([, host]) => host))];
}
