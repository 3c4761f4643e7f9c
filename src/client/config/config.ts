import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir, hostname, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { Document, isMap, isScalar, parseDocument } from 'yaml';
import { closest } from '../usage/usageErrors.ts';
import { fromBase64Url, toBase64Url } from '../../protocol/bytes.ts';
import { generateKeyPair, issueCert, keyPairFromSecret, parseCert } from '../../protocol/cert.ts';
import { HerdError } from '../../protocol/errors.ts';
import type { ClientIdentity } from '../../protocol/handshake.ts';
import { MAX_CERT_TTL_SECONDS } from './lifetimes.ts';
import { revocationsVersion } from '../../protocol/revocations.ts';
import { entryOf, recordIssued } from './issuedRecord.ts';

export interface HostEntry {
  address?: string;
  port?: number;
  user?: string;
  identityFile?: string;
}

export interface IdentityConfig {
  ca: { publicKey: string; secretKey?: string };
  cert: string;
  key: string;
  /** The CA's signed revocation list (herd cert revoke), handed to every host this config reaches. */
  revocations?: string;
}

export interface HerdConfig {
  identity?: IdentityConfig;
  hosts?: Record<string, HostEntry>;
  /** Named nodesets, used as `-H @name`: a nodeset expression or a list of them. */
  groups?: Record<string, string | string[]>;
  /** Defaults for herd run. */
  defaults?: { network?: string; transport?: string; persist?: string; sshConfig?: string; shipRuntime?: string };
}

export interface LoadedConfig {
  path: string;
  config: HerdConfig;
  document: Document;
}

/** --config, else $HERD_CONFIG, else $XDG_CONFIG_HOME/herd/config.yml, else ~/.config/herd/config.yml. */
export function configPath(explicit: string | undefined): string {
  if (explicit !== undefined && explicit !== '') return explicit;
  const env = process.env.HERD_CONFIG;
  if (env !== undefined && env !== '') return env;
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'herd', 'config.yml');
}

function checkConfig(value: unknown, path: string): HerdConfig {
  const bad = (what: string): never => {
    throw new HerdError('CONFIG', `${path}: ${what}`);
  };
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) bad('the top level must be a mapping');
  const config = value as Record<string, unknown>;
  if (config.hosts !== undefined) {
    if (typeof config.hosts !== 'object' || config.hosts === null || Array.isArray(config.hosts)) bad('hosts: must be a mapping of names to hosts');
    for (const [name, entry] of Object.entries(config.hosts as Record<string, unknown>)) {
      if (typeof entry !== 'object' || entry === null) bad(`hosts.${name}: must be a mapping (address, port, user, identityFile)`);
      const e = entry as Record<string, unknown>;
      if (e.port !== undefined && !(Number.isInteger(e.port) && (e.port as number) > 0 && (e.port as number) < 65536)) bad(`hosts.${name}.port: must be 1-65535`);
      for (const key of ['address', 'user', 'identityFile']) if (e[key] !== undefined && typeof e[key] !== 'string') bad(`hosts.${name}.${key}: must be a string`);
    }
  }
  if (config.groups !== undefined) {
    if (typeof config.groups !== 'object' || config.groups === null || Array.isArray(config.groups)) bad('groups: must be a mapping of names to nodesets');
    for (const [name, members] of Object.entries(config.groups as Record<string, unknown>)) {
      const ok = typeof members === 'string' || (Array.isArray(members) && members.every((m) => typeof m === 'string'));
      if (!ok) bad(`groups.${name}: must be a nodeset ("web[01-20],db1") or a list of them`);
    }
  }
  if (config.defaults !== undefined) {
    const d = config.defaults as Record<string, unknown>;
    if (typeof d !== 'object' || d === null) bad('defaults: must be a mapping (network, transport, persist, sshConfig, shipRuntime)');
    for (const key of ['network', 'transport', 'persist', 'sshConfig', 'shipRuntime']) if (d[key] !== undefined && typeof d[key] !== 'string') bad(`defaults.${key}: must be a string`);
  }
  if (config.identity !== undefined) {
    const id = config.identity as Record<string, unknown>;
    const ca = id.ca as Record<string, unknown> | undefined;
    if (typeof id.cert !== 'string' || typeof id.key !== 'string' || typeof ca !== 'object' || ca === null || typeof ca.publicKey !== 'string') {
      bad('identity: needs cert, key and ca.publicKey (herd writes these on first use)');
    }
    if (id.revocations !== undefined && typeof id.revocations !== 'string') bad('identity.revocations: must be a string (herd cert revoke writes it)');
  }
  return config as HerdConfig;
}

/** The keys each part of the config may have; `*` is any name (a host's, a group's). */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': ['identity', 'hosts', 'groups', 'defaults'],
  identity: ['ca', 'cert', 'key', 'revocations'],
  'identity.ca': ['publicKey', 'secretKey'],
  'hosts.*': ['address', 'port', 'user', 'identityFile'],
  defaults: ['network', 'transport', 'persist', 'sshConfig', 'shipRuntime'],
};

/** A key the config does not know is an error with its line and the key meant: a typo must not be ignored. */
function checkKeys(document: Document, text: string, path: string): void {
  const lineOf = (offset: number | undefined): number => (offset === undefined ? 0 : text.slice(0, offset).split('\n').length);
  const visit = (node: unknown, at: string): void => {
    if (!isMap(node)) return;
    const known = KNOWN_KEYS[at];
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (known !== undefined && !known.includes(key)) {
        const guess = closest(key, known);
        const where = at === '' ? key : `${at.replace('*', '…')}.${key}`;
        throw new HerdError('CONFIG', `${path}:${lineOf(isScalar(pair.key) ? pair.key.range?.[0] : undefined)}: unknown key ${where}`, {
          hint: guess !== null ? `did you mean ${guess}?` : `the keys here are ${known.join(', ')} (README: Hosts and the config)`,
        });
      }
      const child = at === '' ? key : at === 'hosts' ? 'hosts.*' : `${at}.${key}`;
      if (at === '' || at === 'hosts' || KNOWN_KEYS[child] !== undefined) visit(pair.value, child);
    }
  };
  visit(document.contents, '');
}

export function loadConfig(explicit: string | undefined): LoadedConfig {
  const path = configPath(explicit);
  if (!existsSync(path)) {
    // Only the default path is made on first use: a named file that is not there is a typo, never a new identity.
    const named = (explicit !== undefined && explicit !== '') || (process.env.HERD_CONFIG ?? '') !== '';
    if (named) {
      throw new HerdError('CONFIG', `${path}: no such config file`, {
        hint: `check the path given by ${explicit !== undefined && explicit !== '' ? '--config' : '$HERD_CONFIG'}: herd creates only the default config (~/.config/herd/config.yml) on first use, and herd cert issue --out FILE writes one for someone else`,
      });
    }
    return { path, config: {}, document: new Document({}) };
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new HerdError('CONFIG', `cannot read ${path}: ${(err as Error).message}`);
  }
  const document = parseDocument(text);
  if (document.errors.length > 0) throw new HerdError('CONFIG', `${path}: ${document.errors[0]!.message.split('\n')[0]}`);
  checkKeys(document, text, path);
  return { path, config: checkConfig(document.toJS(), path), document };
}

/** Writes the config atomically with mode 0600: it holds secret keys. */
export function saveConfig(loaded: LoadedConfig): void {
  try {
    mkdirSync(dirname(loaded.path), { recursive: true, mode: 0o700 });
    const tmp = `${loaded.path}.${process.pid}.tmp`;
    writeFileSync(tmp, loaded.document.toString(), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, loaded.path);
  } catch (err) {
    throw new HerdError('CONFIG', `cannot write the config ${loaded.path}: ${(err as Error).message}`, {
      hint: 'make its directory writable, or point --config or $HERD_CONFIG at a writable file',
    });
  }
}

/** The admin certificate made on first use lives as long as any herd issues (renewed with herd cert renew). */
export const FIRST_ADMIN_TTL_SECONDS = MAX_CERT_TTL_SECONDS;

export function defaultSubject(): string {
  let user = 'herd';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry: keep the generic name
  }
  return `${user}@${hostname()}`;
}

/** First use: a new CA and an admin certificate, written into the config. */
export function createIdentity(loaded: LoadedConfig, nowSeconds: number): IdentityConfig {
  const ca = generateKeyPair();
  const key = generateKeyPair();
  const cert = issueCert(ca, { subject: defaultSubject(), role: 'admin', publicKey: key.publicKey, now: nowSeconds, ttlSeconds: FIRST_ADMIN_TTL_SECONDS });
  const identity: IdentityConfig = {
    ca: { publicKey: toBase64Url(ca.publicKey), secretKey: toBase64Url(ca.secretKey) },
    cert,
    key: toBase64Url(key.secretKey),
  };
  loaded.document.setIn(['identity'], identity);
  loaded.config.identity = identity;
  saveConfig(loaded);
  recordIssued(loaded.path, entryOf(parseCert(cert).body, new Date()));
  return identity;
}

export function clientIdentity(identity: IdentityConfig, path: string): ClientIdentity {
  try {
    parseCert(identity.cert);
    const secretKey = fromBase64Url(identity.key);
    keyPairFromSecret(secretKey);
    const caKey = fromBase64Url(identity.ca.publicKey);
    const caSecret = identity.ca.secretKey === undefined ? undefined : fromBase64Url(identity.ca.secretKey);
    if (identity.revocations !== undefined && revocationsVersion(identity.revocations) === 0) throw new Error('revocations is not a revocation list (herd cert revoke writes it)');
    return {
      cert: identity.cert,
      secretKey,
      caKey,
      ...(caSecret === undefined ? {} : { caSecretKey: caSecret }),
      ...(identity.revocations === undefined ? {} : { revocations: identity.revocations }),
    };
  } catch (err) {
    throw new HerdError('CONFIG', `${path}: identity is unusable: ${(err as Error).message}`);
  }
}
