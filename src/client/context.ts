import { helperAsset } from './buildInfo.ts';
import { loadConfig, type LoadedConfig } from './config.ts';
import { parseDuration } from './durations.ts';
import type { ConnectContext } from './hostConnection.ts';
import { resolveHosts, type HostTarget } from './hosts.ts';
import { ensureIdentity } from './identity.ts';

/** What every command that talks to hosts needs: the config, the hosts, and how to connect. */
export interface CommandContext {
  loaded: LoadedConfig;
  targets: HostTarget[];
  connect: ConnectContext;
}

export function commandContext(
  options: { config?: string; hosts?: string; acceptNew?: boolean; connectTimeout?: string },
  notice: (line: string) => void,
): CommandContext {
  const loaded = loadConfig(options.config);
  const targets = resolveHosts(options.hosts, loaded.config);
  const identity = ensureIdentity(loaded, notice);
  const connectTimeoutMs = parseDuration(options.connectTimeout ?? '15s', '--connect-timeout');
  return { loaded, targets, connect: { helper: helperAsset(), identity, ssh: { acceptNew: options.acceptNew === true, connectTimeoutMs } } };
}
