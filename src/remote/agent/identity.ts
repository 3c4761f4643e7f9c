import { closeSync, existsSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { fromBase64Url, toBase64Url } from '../../protocol/bytes.ts';
import { generateKeyPair, keyId, keyPairFromSecret } from '../../protocol/cert.ts';
import { HerdError } from '../../protocol/errors.ts';
import type { HostIdentity } from '../../protocol/handshake.ts';
import { parseRevocations, type Revocations } from '../../protocol/revocations.ts';
import type { StatePaths } from '../../shared/agentPaths.ts';

function readKey(path: string): Uint8Array | null {
  if (!existsSync(path)) return null;
  return fromBase64Url(readFileSync(path, 'utf8').trim());
}

/** Writes a file only if it does not exist yet; false when another writer was first. */
function createOnce(path: string, content: string): boolean {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/** Loads the host's identity, creating its Ed25519 host key on first use. */
export function loadHostIdentity(paths: StatePaths): HostIdentity {
  let secret = readKey(paths.hostKey);
  if (secret === null) {
    createOnce(paths.hostKey, `${toBase64Url(generateKeyPair().secretKey)}\n`);
    secret = readKey(paths.hostKey)!;
  }
  const hostCert = existsSync(paths.hostCert) ? readFileSync(paths.hostCert, 'utf8').trim() : null;
  const caKey = readKey(paths.caKey);
  return { hostKey: keyPairFromSecret(secret), hostCert, caKey, revocations: caKey === null ? null : loadRevocations(paths, caKey) };
}

/** The stored revocation list, checked again; one that no longer checks out is reported and not used. */
function loadRevocations(paths: StatePaths, caKey: Uint8Array): { list: Revocations; text: string } | null {
  if (!existsSync(paths.revocations)) return null;
  const text = readFileSync(paths.revocations, 'utf8').trim();
  try {
    return { list: parseRevocations(text, caKey), text };
  } catch (err) {
    process.stderr.write(`${new Date().toISOString()} herd agent: ignoring ${paths.revocations}: ${(err as Error).message}\n`);
    return null;
  }
}

/**
 * Reads the stored list again when another agent of this state directory (another herd version,
 * running beside this one during an upgrade) has written a newer one since: a certificate revoked
 * through one agent is refused by all of them.
 */
export function refreshRevocations(paths: StatePaths, identity: HostIdentity): void {
  if (identity.caKey === null) return;
  let mtimeMs: number;
  try {
    mtimeMs = statSync(paths.revocations).mtimeMs;
  } catch {
    return;
  }
  if (mtimeMs === seenMtime.get(paths.revocations)) return;
  seenMtime.set(paths.revocations, mtimeMs);
  const stored = loadRevocations(paths, identity.caKey);
  if (stored !== null && stored.list.version > (identity.revocations?.list.version ?? 0)) identity.revocations = stored;
}

const seenMtime = new Map<string, number>();

/** Keeps a newer revocation list (the handshake checked that it is newer and the CA's). */
export function storeRevocations(paths: StatePaths, identity: HostIdentity, revocations: { list: Revocations; text: string }): void {
  const current = identity.revocations ?? null;
  if (current !== null && current.list.version >= revocations.list.version) return;
  const tmp = `${paths.revocations}.${process.pid}.tmp`;
  writeFileSync(tmp, `${revocations.text}\n`, { mode: 0o600 });
  renameSync(tmp, paths.revocations);
  identity.revocations = revocations;
}

/** Trust on first use: the first admin's CA is pinned, and never replaced by a later one. */
export function pinCa(paths: StatePaths, identity: HostIdentity, caKey: Uint8Array): void {
  if (!createOnce(paths.caKey, `${toBase64Url(caKey)}\n`)) {
    const pinned = readKey(paths.caKey)!;
    if (keyId(pinned) !== keyId(caKey)) throw new HerdError('CERT_UNTRUSTED', `this host already trusts CA ${keyId(pinned)}`);
  }
  identity.caKey = caKey;
}

export function storeHostCert(paths: StatePaths, identity: HostIdentity, cert: string): void {
  const tmp = `${paths.hostCert}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  writeSync(fd, `${cert}\n`);
  closeSync(fd);
  renameSync(tmp, paths.hostCert);
  identity.hostCert = cert;
}
