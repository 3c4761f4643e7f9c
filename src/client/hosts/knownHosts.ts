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

/** What known_hosts says about one host: its keys, keys revoked for it, and CAs trusted to certify it. */
export interface HostKeys {
  keys: KnownKey[];
  /** `@revoked` lines: never accepted, never recorded over. */
  revoked: KnownKey[];
  /** `@cert-authority` lines: CA keys whose host certificates are trusted for this host. */
  authorities: KnownKey[];
}

type Marker = 'plain' | 'revoked' | 'cert-authority';

/** The lines of one file that match a host name, by marker. */
function linesFor(file: string, name: string): Array<{ marker: Marker; key: KnownKey }> {
  if (!existsSync(file)) return [];
  const out: Array<{ marker: Marker; key: KnownKey }> = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: Marker = 'plain';
    if (fields[0]!.startsWith('@')) {
      const word = fields.shift()!;
      // OpenSSH ignores a line with a marker it does not know.
      if (word !== '@revoked' && word !== '@cert-authority') continue;
      marker = word === '@revoked' ? 'revoked' : 'cert-authority';
    }
    const [hosts, type, key] = fields;
    if (hosts === undefined || type === undefined || key === undefined) continue;
    if (hostFieldMatches(hosts, name)) out.push({ marker, key: { type, blob: Buffer.from(key, 'base64') } });
  }
  return out;
}

/** Keys recorded for a host (plain lines only). */
export function knownKeys(file: string, host: string, port: number): KnownKey[] {
  return linesFor(file, knownHostsName(host, port)).filter((l) => l.marker === 'plain').map((l) => l.key);
}

/**
 * What known_hosts files say about a host, as OpenSSH looks it up: on a port other than 22,
 * `[host]:port` entries decide; only when there are none do the host's plain entries. A key
 * revoked under either name is revoked.
 */
export function knownKeysIn(files: readonly string[], host: string, port: number): HostKeys {
  const qualified = files.flatMap((file) => linesFor(file, knownHostsName(host, port)));
  const plain = port === 22 ? qualified : files.flatMap((file) => linesFor(file, knownHostsName(host, 22)));
  const pick = (lines: typeof qualified, marker: Marker): KnownKey[] => lines.filter((l) => l.marker === marker).map((l) => l.key);
  const keys = pick(qualified, 'plain');
  const authorities = pick(qualified, 'cert-authority');
  return {
    keys: keys.length > 0 || port === 22 ? keys : pick(plain, 'plain'),
    revoked: [...pick(qualified, 'revoked'), ...(port === 22 ? [] : pick(plain, 'revoked'))],
    authorities: authorities.length > 0 || port === 22 ? authorities : pick(plain, 'cert-authority'),
  };
}

/**
 * The verdict on a presented key: `revoked` before anything else (as OpenSSH); `authority` when
 * the key is not on record but a CA is trusted for the host (only a host certificate could pass).
 */
export type HostKeyVerdict = 'known' | 'unknown' | 'changed' | 'revoked' | 'authority';

export function judgeHostKey(known: HostKeys | readonly KnownKey[], presented: Uint8Array): HostKeyVerdict {
  const record: HostKeys = Array.isArray(known) ? { keys: [...known], revoked: [], authorities: [] } : (known as HostKeys);
  const same = (k: KnownKey): boolean => Buffer.compare(k.blob, presented) === 0;
  if (record.revoked.some(same)) return 'revoked';
  if (record.keys.some(same)) return 'known';
  if (record.keys.length > 0) return 'changed';
  return record.authorities.length > 0 ? 'authority' : 'unknown';
}

export function recordHostKey(file: string, host: string, port: number, blob: Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, `${knownHostsName(host, port)} ${keyType(blob)} ${Buffer.from(blob).toString('base64')}\n`, { mode: 0o600 });
}
