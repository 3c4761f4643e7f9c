import { helperAsset } from '../buildInfo.ts';
import { loadConfig, type LoadedConfig } from '../config/config.ts';
import { parseDuration } from '../units/durations.ts';
import type { ConnectContext } from '../connection/hostConnection.ts';
import { HerdError } from '../../protocol/errors.ts';
import { resolveHosts, type HostSources, type HostTarget } from '../hosts/targets.ts';
import type { Become } from '../transport/become.ts';
import { TRANSPORTS, type SshOptions, type SshTarget, type TransportName } from '../transport/sshConnection.ts';
import { ensureIdentity } from '../config/identity.ts';
import { loadInventory } from '../hosts/inventory.ts';
import { defaultSources, readSshConfig, type SshConfigSources } from '../hosts/sshConfig.ts';
import { existsSync } from 'node:fs';
import { SHIP_RUNTIME, type ShipRuntime } from '../transport/bootstrapCommand.ts';
import { join, resolve } from 'node:path';

/** What every command that talks to hosts needs: the config, the hosts, and how to connect. */
export interface CommandContext {
  loaded: LoadedConfig;
  targets: HostTarget[];
  connect: ConnectContext;
}

/** -H, -x and -i against the config: the hosts a command acts on, and how ProxyJump hops are reached. */
export function targetsOf(options: { hosts?: string; exclude?: string; inventory?: string; login?: string; sshConfig?: string }, loaded: LoadedConfig): HostTarget[] {
  return resolveHosts(options.hosts, loaded.config, hostSources(options, loaded));
}

/** -F/--ssh-config, else the config's defaults.sshConfig: the one OpenSSH config file to read (none: no file), as ssh -F. */
export function sshConfigFileOf(options: { sshConfig?: string }, loaded: LoadedConfig): string | undefined {
  return options.sshConfig ?? loaded.config.defaults?.sshConfig;
}

function sshConfigSources(file: string | undefined): SshConfigSources {
  const sources = defaultSources();
  if (file === undefined) return sources;
  if (file === 'none') return { ...sources, files: [] };
  const path = file === '~' ? sources.home : file.startsWith('~/') ? join(sources.home, file.slice(2)) : resolve(file);
  if (!existsSync(path)) throw new HerdError('CONFIG', `--ssh-config: no such file ${path}`, { hint: 'name an OpenSSH config file, or none to read no file' });
  // As ssh -F: a user's file, its relative Includes under ~/.ssh.
  return { ...sources, files: [{ path, base: join(sources.home, '.ssh'), userConfig: true }] };
}

/** What -H is resolved against, read once: the inventory, ~/.ssh/config (or -F), -x and -l. */
export function hostSources(options: { exclude?: string; inventory?: string; login?: string; sshConfig?: string }, loaded: LoadedConfig): Omit<HostSources, 'config'> {
  const ssh = sshConfigSources(sshConfigFileOf(options, loaded));
  return {
    ...(options.login === undefined ? {} : { login: options.login }),
    ...(options.inventory === undefined ? {} : { inventory: loadInventory(options.inventory) }),
    ...(options.exclude === undefined ? {} : { exclude: options.exclude }),
    sshConfig: { files: readSshConfig(ssh), home: ssh.home, localUser: ssh.localUser },
  };
}

/**
 * A ProxyJump hop resolved like a -H name (herd's config, ~/.ssh/config, user@host:port), its own
 * ProxyJump included (followed for the first hop of a chain, as OpenSSH does).
 */
export function jumpResolver(loaded: LoadedConfig, sshConfig?: string): (spec: string) => SshTarget {
  let sources: Omit<HostSources, 'config'> | undefined;
  return (spec) => {
    sources ??= hostSources(sshConfig === undefined ? {} : { sshConfig }, loaded);
    const [hop] = resolveHosts(spec, loaded.config, sources);
    if (hop === undefined || hop.kind !== 'ssh') throw new HerdError('INVALID_SPEC', `ProxyJump ${spec} is not an SSH host`);
    return hop;
  };
}

/** The flags that say how hosts are reached. */
export interface ConnectFlags {
  acceptNew?: boolean;
  connectTimeout?: string;
  handshakeTimeout?: string;
  transport?: string;
  persist?: string;
  become?: Become;
  sshConfig?: string;
  shipRuntime?: string;
}

/** How to reach hosts: --transport (else the config's defaults.transport, else ssh2), timeouts, host keys, jump hosts. */
export function sshOptions(flags: ConnectFlags, loaded: LoadedConfig): SshOptions {
  const transport = flags.transport ?? loaded.config.defaults?.transport ?? 'ssh2';
  if (!(TRANSPORTS as readonly string[]).includes(transport)) {
    throw new HerdError('INVALID_SPEC', `--transport: "${transport}" is not one of ${TRANSPORTS.join(', ')}`);
  }
  const sshFile = sshConfigFileOf(flags, loaded);
  const ship = flags.shipRuntime ?? loaded.config.defaults?.shipRuntime ?? 'auto';
  if (!(SHIP_RUNTIME as readonly string[]).includes(ship)) throw new HerdError('INVALID_SPEC', `--ship-runtime: "${ship}" is not one of ${SHIP_RUNTIME.join(', ')}`);
  return {
    transport: transport as TransportName,
    acceptNew: flags.acceptNew === true,
    connectTimeoutMs: parseDuration(flags.connectTimeout ?? '15s', '--connect-timeout'),
    ...(flags.handshakeTimeout === undefined ? {} : { handshakeTimeoutMs: parseDuration(flags.handshakeTimeout, '--handshake-timeout') }),
    persistMs: parseDuration(flags.persist ?? loaded.config.defaults?.persist ?? '0', '--persist'),
    ...(flags.become === undefined ? {} : { become: checkBecome(flags.become) }),
    jumpTarget: jumpResolver(loaded, flags.sshConfig),
    ...(sshFile === undefined ? {} : { sshConfigFile: sshFile }),
    shipRuntime: ship as ShipRuntime,
  };
}

function checkBecome(become: Become): Become {
  if (!/^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(become.user)) throw new HerdError('INVALID_SPEC', `--become-user: "${become.user}" is not a user name`);
  return become;
}

export function commandContext(
  options: ConnectFlags & { config?: string; hosts?: string; exclude?: string; inventory?: string; login?: string },
  notice: (line: string) => void,
): CommandContext {
  const loaded = loadConfig(options.config);
  const targets = targetsOf(options, loaded);
  const ssh = sshOptions(options, loaded);
  const identity = ensureIdentity(loaded, notice);
  return { loaded, targets, connect: { helper: helperAsset(), identity, ssh, config: loaded.path } };
}
