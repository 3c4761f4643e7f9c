import { helperAsset } from './buildInfo.ts';
import { loadConfig, type LoadedConfig } from './config.ts';
import { parseDuration } from './durations.ts';
import type { ConnectContext } from './hostConnection.ts';
import { resolveHosts, type HostTarget } from './hosts.ts';
import { ensureIdentity } from './identity.ts';
import { loadInventory } from './inventory.ts';
import { defaultSources, readSshConfig } from './sshConfig.ts';

/** What every command that talks to hosts needs: the config, the hosts, and how to connect. */
export interface CommandContext {
  loaded: LoadedConfig;
  targets: HostTarget[];
  connect: ConnectContext;
}

/** -H, -x and -i against the config: the hosts a command acts on. */
export function targetsOf(options: { hosts?: string; exclude?: string; inventory?: string }, loaded: LoadedConfig): HostTarget[] {
  const ssh = defaultSources();
  return resolveHosts(options.hosts, loaded.config, {
    ...(options.inventory === undefined ? {} : { inventory: loadInventory(options.inventory) }),
    ...(options.exclude === undefined ? {} : { exclude: options.exclude }),
    sshConfig: { text: readSshConfig(ssh), home: ssh.home, localUser: ssh.localUser },
  });
}

export function commandContext(
  options: { config?: string; hosts?: string; exclude?: string; inventory?: string; acceptNew?: boolean; connectTimeout?: string },
  notice: (line: string) => void,
): CommandContext {
  const loaded = loadConfig(options.config);
  const targets = targetsOf(options, loaded);
  const identity = ensureIdentity(loaded, notice);
  const connectTimeoutMs = parseDuration(options.connectTimeout ?? '15s', '--connect-timeout');
  return { loaded, targets, connect: { helper: helperAsset(), identity, ssh: { acceptNew: options.acceptNew === true, connectTimeoutMs } } };
}
