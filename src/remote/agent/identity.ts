import { closeSync, copyFileSync, existsSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fromBase64Url, toBase64Url } from '../../protocol/bytes.ts';
import { generateKeyPair, keyId, keyPairFromSecret } from '../../protocol/cert.ts';
import { HerdError } from '../../protocol/errors.ts';
import type { HostIdentity, TrustedCa } from '../../protocol/handshake.ts';
import { parseRevocations, type Revocations } from '../../protocol/revocations.ts';
import type { StatePaths } from '../../shared/agentPaths.ts';

/*
 * What a host trusts, in its state directory:
 *   host.key                 the herd host key (Ed25519 secret, base64url)
 *   trust/<keyid>.pub        a trusted CA's public key; the files' order of creation is the CAs' order
 *   trust/<keyid>.cert       the host certificate that CA signed
 *   trust/<keyid>.revocations  the newest revocation list of that CA seen
 *   trust/legacy             the key id of the one CA of herd before several (ca.pub): jobs
 *                            recorded without a CA are its subjects'
 */

function readKey(path: string): Uint8Array | null {
  if (!existsSync(path)) return null;
  return fromBase64Url(readFileSync(path, 'utf8').trim());
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
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

function replaceFile(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  writeSync(fd, content);
  closeSync(fd);
  renameSync(tmp, path);
}

const caFile = (paths: StatePaths, id: string, kind: 'pub' | 'cert' | 'revocations'): string => join(paths.trust, `${id}.${kind}`);

/** Once, for a state directory of herd before several CAs: its CA, host certificate and list go into trust/ (copies, for older agents beside this one). */
function migrateLegacy(paths: StatePaths): void {
  if (existsSync(paths.trust)) return;
  mkdirSync(paths.trust, { recursive: true, mode: 0o700 });
  const key = readKey(paths.legacy.caKey);
  if (key === null) return;
  const id = keyId(key);
  if (existsSync(paths.legacy.hostCert)) copyFileSync(paths.legacy.hostCert, caFile(paths, id, 'cert'));
  if (existsSync(paths.legacy.revocations)) copyFileSync(paths.legacy.revocations, caFile(paths, id, 'revocations'));
  createOnce(join(paths.trust, 'legacy'), `${id}\n`);
  createOnce(caFile(paths, id, 'pub'), `${toBase64Url(key)}\n`);
}

/** A CA's stored list, checked again; one that no longer checks out is reported and not used. */
function loadRevocations(path: string, caKey: Uint8Array): { list: Revocations; text: string } | null {
  const text = readText(path);
  if (text === null) return null;
  try {
    return { list: parseRevocations(text, caKey), text };
  } catch (err) {
    process.stderr.write(`${new Date().toISOString()} herd agent: ignoring ${path}: ${(err as Error).message}\n`);
    return null;
  }
}

function loadCas(paths: StatePaths): TrustedCa[] {
  let names: string[];
  try {
    names = readdirSync(paths.trust).filter((name) => /^[0-9a-f]{16}\.pub$/.test(name));
  } catch {
    return [];
  }
  const cas: Array<TrustedCa & { since: number }> = [];
  for (const name of names) {
    const path = join(paths.trust, name);
    const key = readKey(path);
    if (key === null || key.length !== 32 || `${keyId(key)}.pub` !== name) {
      process.stderr.write(`${new Date().toISOString()} herd agent: ignoring ${path}: not the CA key its name says\n`);
      continue;
    }
    const id = keyId(key);
    cas.push({ key, id, hostCert: readText(caFile(paths, id, 'cert')), revocations: loadRevocations(caFile(paths, id, 'revocations'), key), since: statSync(path).mtimeMs });
  }
  return cas.sort((a, b) => a.since - b.since).map(({ since: _, ...ca }) => ca);
}

/** Loads the host's identity, creating its Ed25519 host key on first use. */
export function loadHostIdentity(paths: StatePaths): HostIdentity {
  let secret = readKey(paths.hostKey);
  if (secret === null) {
    createOnce(paths.hostKey, `${toBase64Url(generateKeyPair().secretKey)}\n`);
    secret = readKey(paths.hostKey)!;
  }
  migrateLegacy(paths);
  return { hostKey: keyPairFromSecret(secret), cas: loadCas(paths), legacyCa: readText(join(paths.trust, 'legacy')) };
}

const seenMtime = new Map<string, number>();

function changed(path: string): boolean {
  let mtimeMs = -1;
  try {
    mtimeMs = statSync(path).mtimeMs;
  } catch {
    // absent: -1
  }
  if (seenMtime.get(path) === mtimeMs) return false;
  seenMtime.set(path, mtimeMs);
  return true;
}

/**
 * Reads the trust store again when another agent of this state directory (another herd version,
 * running beside this one during an upgrade) has changed it: a CA added or removed, or a newer
 * revocation list stored, through one agent counts for all of them. A stat per CA per connection.
 */
export function refreshTrust(paths: StatePaths, identity: HostIdentity): void {
  let any = changed(paths.trust);
  for (const ca of identity.cas) any = changed(caFile(paths, ca.id, 'revocations')) || any;
  if (!any) return;
  const held = new Map(identity.cas.map((ca) => [ca.id, ca]));
  identity.cas = loadCas(paths).map((ca) => {
    const mine = held.get(ca.id)?.revocations ?? null;
    return mine !== null && mine.list.version > (ca.revocations?.list.version ?? 0) ? { ...ca, revocations: mine } : ca;
  });
}

/** Keeps a newer revocation list of a trusted CA (the handshake checked that it is newer and the CA's). */
export function storeRevocations(paths: StatePaths, identity: HostIdentity, caId: string, revocations: { list: Revocations; text: string }): void {
  const ca = identity.cas.find((c) => c.id === caId);
  if (ca === undefined || (ca.revocations !== null && ca.revocations.list.version >= revocations.list.version)) return;
  replaceFile(caFile(paths, caId, 'revocations'), `${revocations.text}\n`);
  ca.revocations = revocations;
}

/** Trusts a CA from now on: the first admin's (trust on first use), or one the state's owner adds. */
export function addCa(paths: StatePaths, identity: HostIdentity, key: Uint8Array): TrustedCa {
  const id = keyId(key);
  const known = identity.cas.find((ca) => ca.id === id);
  if (known !== undefined) return known;
  mkdirSync(paths.trust, { recursive: true, mode: 0o700 });
  createOnce(caFile(paths, id, 'pub'), `${toBase64Url(key)}\n`);
  const ca: TrustedCa = { key, id, hostCert: readText(caFile(paths, id, 'cert')), revocations: loadRevocations(caFile(paths, id, 'revocations'), key) };
  identity.cas.push(ca);
  return ca;
}

/** Stops trusting a CA: its key, host certificate and list go (and the files of herd before several CAs, when they are its). */
export function removeCa(paths: StatePaths, identity: HostIdentity, id: string): void {
  const ca = identity.cas.find((c) => c.id === id);
  if (ca === undefined) throw new HerdError('INVALID_SPEC', `this host does not trust CA ${id}; nothing changed`, { hint: 'see the CAs it trusts: herd host trust --list' });
  const legacy = readKey(paths.legacy.caKey);
  const files = [caFile(paths, id, 'pub'), caFile(paths, id, 'cert'), caFile(paths, id, 'revocations')];
  if (legacy !== null && keyId(legacy) === id) files.push(paths.legacy.caKey, paths.legacy.hostCert, paths.legacy.revocations);
  // The key first: a crash part way leaves an untrusted CA's leftovers, never a trusted CA without its list.
  for (const file of files) {
    try {
      unlinkSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  identity.cas = identity.cas.filter((c) => c.id !== id);
}

/** When the host began to trust a CA: its key file's time. */
export function trustedSince(paths: StatePaths, id: string): string {
  try {
    return statSync(caFile(paths, id, 'pub')).mtime.toISOString();
  } catch {
    return '';
  }
}

export function storeHostCert(paths: StatePaths, identity: HostIdentity, caId: string, cert: string): void {
  const ca = identity.cas.find((c) => c.id === caId);
  if (ca === undefined) return;
  replaceFile(caFile(paths, caId, 'cert'), `${cert}\n`);
  ca.hostCert = cert;
}
