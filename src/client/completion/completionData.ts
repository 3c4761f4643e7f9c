import { loadConfig } from '../config/config.ts';
import { loadInventory } from '../hosts/inventory.ts';
import { defaultSources, namedSshHosts, readSshConfig } from '../hosts/sshConfig.ts';
import { recentJobIds } from '../state/jobIndex.ts';
import type { CompletionData } from './candidates.ts';

/** What completion offers, read from the config (--config in the words), the inventory (-i), ~/.ssh/config and the job index; whatever cannot be read offers nothing. */
export function completionData(words: readonly string[]): CompletionData {
  const valueOf = (...flags: string[]): string | undefined => {
    for (let i = words.length - 2; i >= 0; i--) if (flags.includes(words[i]!)) return words[i + 1];
    return undefined;
  };
  const hosts = new Set<string>();
  const groups = new Set<string>();
  const quietly = (read: () => void): void => {
    try {
      read();
    } catch {
      // a config or inventory that does not read completes nothing, and says nothing
    }
  };
  quietly(() => {
    const { config } = loadConfig(valueOf('--config'));
    for (const h of Object.keys(config.hosts ?? {})) hosts.add(h);
    for (const g of Object.keys(config.groups ?? {})) groups.add(g);
  });
  const inventory = valueOf('-i', '--inventory');
  if (inventory !== undefined) {
    quietly(() => {
      const inv = loadInventory(inventory);
      for (const h of inv.hosts.keys()) hosts.add(h);
      for (const g of inv.groups.keys()) groups.add(g);
    });
  }
  quietly(() => {
    for (const h of namedSshHosts(readSshConfig(defaultSources()))) hosts.add(h);
  });
  let jobIds: string[] = [];
  quietly(() => {
    jobIds = recentJobIds();
  });
  return { hosts: [...hosts], groups: [...groups], jobIds };
}
