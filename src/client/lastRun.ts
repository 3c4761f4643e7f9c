import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** The hosts that failed or could not be reached in this user's last `herd run`: `-H @failed`. */
function lastRunPath(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'herd', 'last-run.json');
}

export function rememberFailed(hosts: readonly string[]): void {
  const path = lastRunPath();
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ failed: hosts, at: new Date().toISOString() })}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  } catch {
    // a read-only cache only means @failed is not available
  }
}

/** The failed hosts of the last run; empty when it had none (or there was none). */
export function lastFailed(): string[] {
  try {
    const parsed = JSON.parse(readFileSync(lastRunPath(), 'utf8')) as { failed?: unknown };
    return Array.isArray(parsed.failed) ? parsed.failed.filter((h): h is string => typeof h === 'string') : [];
  } catch {
    return [];
  }
}
