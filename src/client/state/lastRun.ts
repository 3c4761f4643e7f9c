import { readCache, writeCache } from './localState.ts';

/** The hosts that failed or could not be reached in this user's last `herd run`: `-H @failed`. */
const FILE = 'last-run.json';

export function rememberFailed(hosts: readonly string[]): void {
  writeCache(FILE, { failed: hosts, at: new Date().toISOString() });
}

/** The failed hosts of the last run; empty when it had none (or there was none). */
export function lastFailed(): string[] {
  const parsed = readCache(FILE) as { failed?: unknown } | undefined;
  return Array.isArray(parsed?.failed) ? parsed.failed.filter((h): h is string => typeof h === 'string') : [];
}
