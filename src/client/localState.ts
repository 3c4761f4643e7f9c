import { homedir } from 'node:os';
import { join } from 'node:path';

/** The local agent's state directory, as bootstrap.sh chooses it. */
export function localStateDir(): string {
  if (process.env.HERD_STATE_DIR) return process.env.HERD_STATE_DIR;
  if (process.getuid?.() === 0) return '/var/lib/herd';
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'herd');
}
