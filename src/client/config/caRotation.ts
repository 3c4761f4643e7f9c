import { closeSync, constants, fsyncSync, lstatSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { fromBase64Url, toBase64Url } from '../../protocol/bytes.ts';
import { generateKeyPair, issueCert, keyId, parseCert } from '../../protocol/cert.ts';
import { HerdError } from '../../protocol/errors.ts';
import type { Role } from '../../protocol/roles.ts';
import type { IdentityConfig } from './config.ts';

/**
 * A CA rotation under way, kept beside the config until the config uses the new CA: a rotation
 * cut short (a host not reached, a crash) is taken up again with the same new CA, so hosts that
 * already trust it are not given yet another one.
 */
export interface PendingRotation {
  /** The CA being replaced (its key id). */
  from: string;
  startedAt: string;
  /** adding: the new CA goes to every host; switched: the config uses it, the old CA is still to be removed. */
  phase: 'adding' | 'switched';
  next: IdentityConfig;
}

export function rotationPath(configPath: string): string {
  return `${configPath}.rotating`;
}

/** Where the old CA's identity is kept after the switch, for revoking its certificates while it is still trusted. */
export function retiredPath(configPath: string, oldCa: string): string {
  return `${configPath}.ca-${oldCa}.yml`;
}

export function readPendingRotation(configPath: string): PendingRotation | null {
  const path = rotationPath(configPath);
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return null;
  }
  // It holds a CA secret this run would sign with and push to every host: only a file we wrote.
  const uid = process.getuid?.();
  if (!stat.isFile() || (stat.mode & 0o077) !== 0 || (uid !== undefined && stat.uid !== uid)) {
    throw new HerdError('CONFIG', `${path} is not a private file of yours (a link, or readable by others, or another user's); nothing changed`, { hint: 'a rotation file herd did not write: remove it, and check who can write to the config\'s directory' });
  }
  let value: unknown;
  try {
    value = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new HerdError('CONFIG', `${path}: ${(err as Error).message.split('\n')[0]}`, { hint: 'a CA rotation was begun and its file is damaged: remove it to start over' });
  }
  const pending = value as Partial<PendingRotation> | null;
  const next = pending?.next;
  if (typeof pending?.from !== 'string' || typeof next?.cert !== 'string' || typeof next.key !== 'string' || typeof next.ca?.publicKey !== 'string' || typeof next.ca.secretKey !== 'string') {
    throw new HerdError('CONFIG', `${path}: not a CA rotation herd wrote`, { hint: 'remove it to start the rotation over' });
  }
  return { from: pending.from, startedAt: String(pending.startedAt ?? ''), phase: pending.phase === 'switched' ? 'switched' : 'adding', next };
}

/** A new CA and, signed by it, the caller's certificate again: same subject and role, a new key. */
export function beginRotation(configPath: string, current: IdentityConfig, ttlSeconds: number, nowSeconds: number): PendingRotation {
  const old = parseCert(current.cert).body;
  const ca = generateKeyPair();
  const key = generateKeyPair();
  const cert = issueCert(ca, { subject: old.subject, role: old.role as Role, publicKey: key.publicKey, now: nowSeconds, ttlSeconds });
  const pending: PendingRotation = {
    from: keyId(fromBase64Url(current.ca.publicKey)),
    startedAt: new Date(nowSeconds * 1000).toISOString(),
    phase: 'adding',
    next: { ca: { publicKey: toBase64Url(ca.publicKey), secretKey: toBase64Url(ca.secretKey) }, cert, key: toBase64Url(key.secretKey) },
  };
  writeSecret(rotationPath(configPath), stringify(pending));
  return pending;
}

/** The config uses the new CA now: what is left is removing the old one from the hosts. */
export function markSwitched(configPath: string, pending: PendingRotation): PendingRotation {
  const switched: PendingRotation = { ...pending, phase: 'switched' };
  writeSecret(rotationPath(configPath), stringify(switched));
  return switched;
}

export function endRotation(configPath: string): void {
  rmSync(rotationPath(configPath), { force: true });
}

/**
 * Writes a file only we may read, whole or not at all: a new file (O_EXCL, never through a link
 * planted at its name) renamed over the old one.
 */
export function writeSecret(path: string, text: string): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw new HerdError('CONFIG', `cannot write ${path}: ${(err as Error).message}`, { hint: 'make the config\'s directory writable' });
  }
}
