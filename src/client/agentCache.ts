import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Where each host's agent listens, learned from its welcome, so the next connection
 * can reach it directly (no bootstrap, no helper process). A wrong or stale entry
 * only costs one failed channel open before the bootstrap path.
 */
export interface AgentEntry {
  socket: string;
  version: string;
}

export function agentCachePath(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'herd', 'agents.json');
}

function readAll(path: string): Record<string, AgentEntry> {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, AgentEntry>) : {};
  } catch {
    return {};
  }
}

export function cachedAgent(key: string): AgentEntry | undefined {
  const entry = readAll(agentCachePath())[key];
  return entry !== undefined && typeof entry.socket === 'string' && typeof entry.version === 'string' ? entry : undefined;
}

/** Records an agent; concurrent writers may lose an entry, which only costs a bootstrap next time. */
export function rememberAgent(key: string, entry: AgentEntry): void {
  const path = agentCachePath();
  const all = readAll(path);
  const old = all[key];
  if (old !== undefined && old.socket === entry.socket && old.version === entry.version) return;
  all[key] = entry;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  } catch {
    // a read-only cache only makes the next contact slower
  }
}
