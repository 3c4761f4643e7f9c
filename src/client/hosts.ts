import { userInfo } from 'node:os';
import { HerdError } from '../protocol/errors.ts';
import type { HerdConfig, HostEntry } from './config.ts';
import type { Inventory } from './inventory.ts';
import { excludeNodes, expandNodeset, type GroupLookup } from './nodeset.ts';

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

/** What -H is resolved against: the config's hosts and groups, an inventory, and -x. */
export interface HostSources {
  config: HerdConfig;
  inventory?: Inventory;
  exclude?: string;
}

/** `@name`: the config's groups first, then the inventory's. */
export function groupLookup(sources: HostSources): GroupLookup {
  return (name) => {
    const fromConfig = sources.config.groups?.[name];
    if (fromConfig !== undefined) return typeof fromConfig === 'string' ? [fromConfig] : fromConfig;
    return sources.inventory?.groups.get(name);
  };
}

/**
 * Resolves `-H` (a nodeset: `web[01-20],db1,@group,user@host:port`, minus `-x`) against the
 * config and the inventory; no hosts means the local machine.
 */
export function resolveHosts(spec: string | undefined, config: HerdConfig, more: Omit<HostSources, 'config'> = {}): HostTarget[] {
  const sources: HostSources = { config, ...more };
  const groups = groupLookup(sources);
  const names = excludeNodes(expandNodeset(spec ?? 'local', groups), sources.exclude, groups);
  if (names.length === 0) throw new HerdError('INVALID_SPEC', spec === undefined || spec.trim() === '' ? '--hosts: no host given' : `--hosts: "${spec}" names no host${sources.exclude === undefined ? '' : ` once -x ${sources.exclude} is taken out`}`);
  const targets: HostTarget[] = [];
  for (const name of names) {
    if (name === 'local') {
      targets.push({ kind: 'local', name: 'local' });
      continue;
    }
    const entry: HostEntry | undefined = config.hosts?.[name] ?? sources.inventory?.hosts.get(name);
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
