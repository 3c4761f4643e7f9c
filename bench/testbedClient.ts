import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Testbed, TestHost } from '../fixtures/testbed/testbed.ts';

/** A herd config in the testbed's client HOME naming `hosts` (all of them by default) as root@address. */
export function configureHerd(bed: Testbed, hosts: readonly TestHost[] = bed.hosts): void {
  mkdirSync(join(bed.home, '.config', 'herd'), { recursive: true });
  writeFileSync(join(bed.home, '.config', 'herd', 'config.yml'), stringify({ hosts: Object.fromEntries(hosts.map((h) => [h.name, { address: h.address, user: 'root' }])) }));
}

/** What the peer tools (ssh, clush, pssh, ansible) are given to reach the testbed as herd does. */
export function peerSshOptions(bed: Testbed): string[] {
  return ['-F', 'none', '-i', bed.clientKey, '-o', `UserKnownHostsFile=${bed.knownHosts}`, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes'];
}
