import { agentTag } from '../../shared/agentPaths.ts';
import { readCache, writeCache } from './localState.ts';

/**
 * Where each host's agent listens, learned from its welcome, so the next connection
 * can reach it directly (no bootstrap, no helper process). A wrong or stale entry
 * only costs one failed channel open before the bootstrap path.
 */
export interface AgentEntry {
  socket: string;
  version: string;
}

const FILE = 'agents.json';

function readAll(): Record<string, AgentEntry> {
  const parsed = readCache(FILE);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, AgentEntry>) : {};
}

export function cachedAgent(key: string): AgentEntry | undefined {
  const entry = readAll()[key];
  return entry !== undefined && typeof entry.socket === 'string' && typeof entry.version === 'string' ? entry : undefined;
}

/** Records an agent; a lost entry only costs a bootstrap next time. */
export function rememberAgent(key: string, entry: AgentEntry): void {
  const all = readAll();
  const old = all[key];
  if (old !== undefined && old.socket === entry.socket && old.version === entry.version) return;
  all[key] = entry;
  writeCache(FILE, all);
}

/**
 * A socket path an agent may name in its welcome: absolute, no `..`, no control characters, and
 * the file name herd gives the agent of this helper (agent-<tag>.sock). Anything else is not
 * remembered, so a host cannot choose what the client dials next time.
 */
export function isAgentSocketPath(path: string, helperSha256: string): boolean {
  if (typeof path !== 'string' || path.length > 200 || !path.startsWith('/') || /[\u0000-\u001f\u007f]/.test(path)) return false;
  const parts = path.split('/');
  if (parts.some((p) => p === '..' || p === '.')) return false;
  // In a state directory named as bootstrap.sh names them: /var/lib/herd, $XDG_CACHE_HOME/herd, ~/.cache/herd.
  return parts.at(-1) === `agent-${agentTag(helperSha256)}.sock` && parts.at(-2) === 'herd';
}
