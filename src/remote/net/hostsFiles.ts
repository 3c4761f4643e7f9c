import { existsSync, lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolvConf, type NetworkSpec } from './network.ts';
import type { NetworkRegistry } from './registry.ts';

/**
 * Rewrites the network's hosts file from its leases. In place (truncate and write, same inode):
 * jobs see it through a bind mount, which a rename would leave pointing at the old file.
 */
export function writeHosts(registry: NetworkRegistry, spec: NetworkSpec): void {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  if (registry.hasLeases(spec)) {
    for (const [ip, holder] of registry.leases(spec).all()) lines.push(`${ip}\t${[holder.name, holder.jobId].filter(Boolean).join(' ')}`);
  }
  writeFileSync(join(registry.dirOf(spec), 'hosts'), `${lines.join('\n')}\n`, { mode: 0o644 });
}

/** The network's hosts file, bound read-only into its jobs as /etc/hosts; made if missing. */
export function hostsFile(registry: NetworkRegistry, spec: NetworkSpec): string {
  const path = join(registry.dirOf(spec), 'hosts');
  if (!existsSync(path)) {
    mkdirSync(registry.dirOf(spec), { recursive: true, mode: 0o700 });
    writeHosts(registry, spec);
  }
  return path;
}

/**
 * The network's resolv.conf when it has --dns servers (bound as the job's /etc/resolv.conf);
 * undefined otherwise, and the job reads the host's. The host's must be a regular file to be
 * covered by a bind mount: a symlink (systemd-resolved) would be followed onto the host's target.
 */
export function resolvFile(registry: NetworkRegistry, spec: NetworkSpec): string | undefined {
  if (spec.dns.length === 0) return undefined;
  try {
    if (!lstatSync('/etc/resolv.conf').isFile()) return undefined;
  } catch {
    return undefined;
  }
  const path = join(registry.dirOf(spec), 'resolv.conf');
  mkdirSync(registry.dirOf(spec), { recursive: true, mode: 0o700 });
  writeFileSync(path, resolvConf(spec.dns), { mode: 0o644 });
  return path;
}
