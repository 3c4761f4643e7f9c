import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The name OpenSSH records a host under: `host`, or `[host]:port` off port 22. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The key type named inside an SSH public key blob (a length-prefixed string). */
export function keyType(blob: Uint8Array): string {
  if (blob.length < 4) return '';
  const length = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(0);
  return new TextDecoder().decode(blob.subarray(4, 4 + length));
}

export function fingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function globToRegExp(pattern: string): RegExp {
  // Only * and ? are wildcards; brackets are literal ([host]:port).
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (salt === undefined || hash === undefined) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of field.split(',')) {
    const negated = pattern.startsWith('!');
    if (globToRegExp(negated ? pattern.slice(1) : pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export interface KnownKey {
  type: string;
  blob: Buffer;
}

/** Keys recorded for a host; @revoked and @cert-authority lines are not host keys and are skipped. */
export function knownKeys(file: string, host: string, port: number): KnownKey[] {
  if (!existsSync(file)) return [];
  const name = knownHostsName(host, port);
  const keys: KnownKey[] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('@')) continue;
    const [hosts, type, key] = line.split(/\s+/);
    if (hosts === undefined || type === undefined || key === undefined) continue;
    if (hostFieldMatches(hosts, name)) keys.push({ type, blob: Buffer.from(key, 'base64') });
  }
  return keys;
}

/**
 * The recorded keys of a host across known_hosts files, as OpenSSH looks them up: on a port other
 * than 22, `[host]:port` entries decide; only when there are none do the host's plain entries.
 */
export function knownKeysIn(files: readonly string[], host: string, port: number): KnownKey[] {
  const qualified = files.flatMap((file) => knownKeys(file, host, port));
  if (qualified.length > 0 || port === 22) return qualified;
  return files.flatMap((file) => knownKeys(file, host, 22));
}

export type HostKeyVerdict = 'known' | 'unknown' | 'changed';

export function judgeHostKey(known: readonly KnownKey[], presented: Uint8Array): HostKeyVerdict {
  if (known.length === 0) return 'unknown';
  return known.some((k) => Buffer.compare(k.blob, presented) === 0) ? 'known' : 'changed';
}

export function recordHostKey(file: string, host: string, port: number, blob: Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, `${knownHostsName(host, port)} ${keyType(blob)} ${Buffer.from(blob).toString('base64')}\n`, { mode: 0o600 });
}
