import type { AuditHead } from '../../shared/auditChain.ts';
import { readCache, writeCache } from './localState.ts';

/**
 * The last line `herd audit verify` saw on each host (by host key id): the next verify checks it is
 * still there, unchanged. A whole log rewritten on the host, chain and all, fails there, as does one
 * cut back past it. Lost or missing, it only makes the next verify rely on the chain alone.
 */
const FILE = 'audit-anchors.json';

function readAll(): Record<string, AuditHead> {
  const parsed = readCache(FILE);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, AuditHead>) : {};
}

export function auditAnchor(hostId: string): AuditHead | null {
  const entry = readAll()[hostId];
  return entry !== undefined && Number.isSafeInteger(entry.seq) && typeof entry.hash === 'string' ? entry : null;
}

export function rememberAuditAnchor(hostId: string, head: AuditHead): void {
  const all = readAll();
  all[hostId] = { seq: head.seq, hash: head.hash };
  writeCache(FILE, all);
}
