import { readFileSync } from 'node:fs';
import { isLiveHelper } from '../system/processes.ts';

/**
 * The live herd process an agent lock file names (its pid), or null: no lock, an unreadable one, or
 * a pid that has died or now belongs to some other program (a stale lock).
 */
export function lockHolder(path: string): number | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 && isLiveHelper(pid) ? pid : null;
}
