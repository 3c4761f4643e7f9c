import { userInfo } from 'node:os';
import { HerdError } from '../../protocol/errors.ts';
import type { HerdConfig, HostEntry } from '../config/config.ts';
import type { Inventory } from './inventory.ts';
import { excludeNodes, expandNodeset, type GroupLookup, type KnownNames } from './nodeset.ts';
import { expandPath, resolveSsh, type SshSettings } from './sshConfig.ts';
import type { ParsedSshConfig } from './sshConfigParse.ts';
import { lastFailed } from '../state/lastRun.ts';

/**
 * How to reach an SSH host beyond address, port and user: what ~/.ssh/config says (see
 * sshConfig.ts), with IdentityFile paths expanded.
 */
export type SshTargetOptions = Omit<SshSettings, 'hostname' | 'user' | 'port'>;

export type HostTarget =
  | { kind: 'local'; name: 'local' }
  | {
      kind: 'ssh';
      name: string;
      address: string;
      port: number;
      user: string;
      /** The name ~/.ssh/config knows it by (what -H said), when not from herd's config or an inventory. */
      alias?: string;
      ssh?: SshTargetOptions;
    };

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

/** What -H is resolved against: the config's hosts and groups, an inventory, -x, and ~/.ssh/config. */
export interface HostSources {
  config: HerdConfig;
  inventory?: Inventory;
  exclude?: string;
  /** -l/--login: the SSH user for every host that does not name one itself (user@host). */
  login?: string;
  /** OpenSSH's configuration (its files parsed, and where ~ and %u lead); none: not read. */
  sshConfig?: { files: ParsedSshConfig[]; home: string; localUser: string };
}

/** `@name`: the config's groups first, then the inventory's. */
export function groupLookup(sources: HostSources): GroupLookup {
  return (name) => {
    const fromConfig = sources.config.groups?.[name];
    if (fromConfig !== undefined) return typeof fromConfig === 'string' ? [fromConfig] : fromConfig;
    const fromInventory = sources.inventory?.groups.get(name);
    if (fromInventory !== undefined) return fromInventory;
    // @failed: the hosts that failed or could not be reached in the last herd run.
    if (name === 'failed') return lastFailed();
    // @all (and a bare `all`, as Ansible's pattern): every host the config and the inventory name.
    if (name === 'all') return [...Object.keys(sources.config.hosts ?? {}), ...(sources.inventory?.hosts.keys() ?? [])];
    return undefined;
  };
}

/** What `web*` is matched against: the config's and the inventory's hosts and groups. */
export function knownNames(sources: HostSources): KnownNames {
  return {
    hosts: () => [...new Set([...Object.keys(sources.config.hosts ?? {}), ...(sources.inventory?.hosts.keys() ?? [])])],
    groups: () => [...new Set([...Object.keys(sources.config.groups ?? {}), ...(sources.inventory?.groups.keys() ?? [])])],
  };
}

/** Ansible's `all` pattern, where no host is named `all`: the same as `@all`. */
function allAsGroup(spec: string, sources: HostSources): string {
  if (sources.config.hosts?.all !== undefined || sources.inventory?.hosts.has('all') === true) return spec;
  return spec.replace(/(^|[,!&^])(\s*)all(\s*)(?=$|[,!&^])/g, '$1$2@all$3');
}

/**
 * Resolves `-H` (a nodeset: `web[01-20],db1,@group,user@host:port`, minus `-x`) against the
 * config and the inventory; no hosts means the local machine.
 */
export function resolveHosts(spec: string | undefined, config: HerdConfig, more: Omit<HostSources, 'config'> = {}): HostTarget[] {
  const sources: HostSources = { config, ...more };
  if (sources.login !== undefined && !/^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(sources.login)) {
    throw new HerdError('INVALID_SPEC', `--login: "${sources.login}" is not a user name`);
  }
  const groups = groupLookup(sources);
  const known = knownNames(sources);
  const names = excludeNodes(expandNodeset(allAsGroup(spec ?? 'local', sources), groups, known), sources.exclude, groups, known);
  if (names.length === 0) {
    if (spec?.trim() === '@failed') throw new HerdError('INVALID_SPEC', 'no host failed in the last herd run: @failed is empty');
    throw new HerdError('INVALID_SPEC', spec === undefined || spec.trim() === '' ? '--hosts: no host given' : `--hosts: "${spec}" names no host${sources.exclude === undefined ? '' : ` once -x ${sources.exclude} is taken out`}`);
  }
  const targets: HostTarget[] = [];
  for (const name of names) {
    if (name === 'local') {
      targets.push({ kind: 'local', name: 'local' });
      continue;
    }
    // herd's config and the inventory say what they say; ~/.ssh/config fills in the rest, as
    // OpenSSH would resolve the name (Host and Match blocks, HostName, User, Port, IdentityFile...).
    const entry: HostEntry | undefined = config.hosts?.[name] ?? sources.inventory?.hosts.get(name);
    const parsed = entry === undefined ? parseAddress(name) : { host: name };
    const ssh = sources.sshConfig === undefined ? null : resolveSsh(parsed.host, sources.sshConfig.files, sources.sshConfig);
    const address = entry?.address ?? ssh?.hostname ?? parsed.host;
    const port = entry?.port ?? parsed.port ?? ssh?.port ?? 22;
    // As ssh: user@host first, then -l, then what the config, the inventory and ~/.ssh/config say.
    const user = parsed.user ?? sources.login ?? entry?.user ?? ssh?.user ?? currentUser();
    const context = { hostname: address, port, user, original: parsed.host };
    const identityFiles =
      entry?.identityFile !== undefined
        ? [entry.identityFile]
        : (ssh?.identityFiles ?? []).map((f) => (sources.sshConfig === undefined ? f : expandPath(f, context, sources.sshConfig)));
    targets.push({
      kind: 'ssh',
      name,
      address,
      port,
      user,
      ...(entry === undefined ? { alias: parsed.host } : {}),
      ...(ssh === null && identityFiles.length === 0
        ? {}
        : {
            ssh: {
              identityFiles,
              identitiesOnly: ssh?.identitiesOnly ?? false,
              proxyJump: ssh?.proxyJump ?? [],
              connectTimeoutMs: ssh?.connectTimeoutMs ?? null,
              serverAliveIntervalMs: ssh?.serverAliveIntervalMs ?? 0,
              strictHostKeyChecking: ssh?.strictHostKeyChecking ?? 'ask',
              userKnownHostsFiles: ssh?.userKnownHostsFiles ?? [],
            },
          }),
    });
  }
  return targets;
}
