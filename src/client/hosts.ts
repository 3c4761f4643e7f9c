import { userInfo } from 'node:os';
import { HerdError } from '../protocol/errors.ts';
import type { HerdConfig } from './config.ts';

export type HostTarget =
  | { kind: 'local'; name: 'local' }
  | { kind: 'ssh'; name: string; address: string; port: number; user: string; identityFile?: string };

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'root';
  }
}

const HOST_PART = /^[A-Za-z0-9._-]+$/;

/** `[user@]host[:port]` */
function parseAddress(text: string): { user?: string; host: string; port?: number } {
  const at = text.lastIndexOf('@');
  const user = at >= 0 ? text.slice(0, at) : undefined;
  const rest = at >= 0 ? text.slice(at + 1) : text;
  const colon = rest.lastIndexOf(':');
  const host = colon >= 0 ? rest.slice(0, colon) : rest;
  const portText = colon >= 0 ? rest.slice(colon + 1) : undefined;
  if (!HOST_PART.test(host) || (user !== undefined && !/^[A-Za-z0-9._-]+$/.test(user))) {
    throw new HerdError('INVALID_SPEC', `--hosts: "${text}" is not a host (expected a name from the config, "local", or user@host:port)`);
  }
  let port: number | undefined;
  if (portText !== undefined) {
    port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new HerdError('INVALID_SPEC', `--hosts: "${portText}" in "${text}" is not a port`);
  }
  return { host, ...(user === undefined ? {} : { user }), ...(port === undefined ? {} : { port }) };
}

/** Resolves `-H a,b,user@c:2222` against the config; no hosts means the local machine. */
export function resolveHosts(spec: string | undefined, config: HerdConfig): HostTarget[] {
  const names = (spec ?? 'local').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new HerdError('INVALID_SPEC', '--hosts: no host given');
  const targets: HostTarget[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) continue;
    seen.add(name);
    if (name === 'local') {
      targets.push({ kind: 'local', name: 'local' });
      continue;
    }
    const entry = config.hosts?.[name];
    if (entry !== undefined) {
      targets.push({
        kind: 'ssh',
        name,
        address: entry.address ?? name,
        port: entry.port ?? 22,
        user: entry.user ?? currentUser(),
        ...(entry.identityFile === undefined ? {} : { identityFile: entry.identityFile }),
      });
      continue;
    }
    const parsed = parseAddress(name);
    targets.push({ kind: 'ssh', name, address: parsed.host, port: parsed.port ?? 22, user: parsed.user ?? currentUser() });
  }
  return targets;
}
