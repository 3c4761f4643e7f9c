import { loadConfig, type LoadedConfig } from '../config/config.ts';
import { jsonDocument } from '../output/jsonDocument.ts';
import { loadInventory, type Inventory } from '../hosts/inventory.ts';
import { foldNodeset } from '../hosts/nodesetFold.ts';
import { groupLookup, knownNames, resolveHosts, type HostTarget } from '../hosts/targets.ts';
import { HerdError } from '../../protocol/errors.ts';
import { excludeNodes, expandNodeset } from '../hosts/nodeset.ts';
import { formatTable } from '../output/table.ts';
import { hostSources, targetsOf } from './context.ts';
import { globalOptions, type CommandModule, type GlobalOptions } from './types.ts';

/** A group as `herd hosts --groups` shows it: where it is defined and every host it stands for. */
export interface GroupListing {
  name: string;
  source: 'config' | 'inventory';
  hosts: string[];
}

function listGroups(options: GlobalOptions, loaded: LoadedConfig): GroupListing[] {
  const inventory: Inventory | undefined = options.inventory === undefined ? undefined : loadInventory(options.inventory);
  const sources = { config: loaded.config, ...(inventory === undefined ? {} : { inventory }) };
  const lookup = groupLookup(sources);
  const known = knownNames(sources);
  const listed: GroupListing[] = [];
  for (const name of Object.keys(loaded.config.groups ?? {})) listed.push({ name, source: 'config', hosts: expandNodeset(`@${name}`, lookup, known) });
  // The config's group of a name wins (as in -H @name); the inventory's of the same name is not reached.
  for (const [name, hosts] of inventory?.groups ?? []) if (loaded.config.groups?.[name] === undefined) listed.push({ name, source: 'inventory', hosts });
  return listed;
}

/** `herd hosts [-H EXPR]`: what an expression stands for (every known host without -H), and how each host would be reached. */
export const hostsModule: CommandModule = {
  command: 'hosts',
  describe: 'show the hosts -H (with -x, -i) resolves to and how each is reached; every known host without -H; --groups for groups',
  builder: (y) =>
    y
      .option('groups', { type: 'boolean', default: false, describe: 'list the groups of the config and the inventory, with their hosts' })
      .example('$0 hosts', 'every host of the config (and of -i INVENTORY)')
      .example('$0 hosts -H "web[01-20],@db" -x web07', 'a nodeset, a group, one host left out')
      .example('$0 hosts -H "web*&@eu"', 'hosts named web…, in group eu')
      .example('$0 hosts -i inventory.ini --groups', 'the groups of an Ansible inventory, with their hosts')
      .example('$0 hosts -i inventory.ini -H @webservers --json', 'a group of an Ansible inventory, as JSON'),
  handler: (argv, io) => {
    const options = globalOptions(argv);
    const loaded = loadConfig(options.config);
    if (argv.groups === true) {
      const groups = listGroups(options, loaded);
      if (options.json) io.stdout.write(jsonDocument('groups', { groups }));
      else if (groups.length === 0) io.stderr.write('herd: no groups: add groups: to the config, or give an inventory with -i FILE\n');
      else io.stdout.write(formatTable(['GROUP', 'FROM', 'HOSTS', 'COUNT'], groups.map((g) => [g.name, g.source, g.hosts.length === 0 ? '-' : foldNodeset(g.hosts), String(g.hosts.length)])));
      return { exitCode: 0 };
    }
    let targets: HostTarget[];
    if (options.hosts !== undefined) targets = targetsOf(options, loaded);
    else {
      // No -H: every host the config and the inventory know (this machine when they know none), less -x.
      const { exclude: _exclude, ...rest } = options;
      const more = hostSources(rest, loaded);
      const sources = { config: loaded.config, ...more };
      const known = knownNames(sources);
      const all = known.hosts();
      const names = excludeNodes(all, options.exclude, groupLookup(sources), known);
      if (all.length > 0 && names.length === 0) throw new HerdError('INVALID_SPEC', `-x ${options.exclude} leaves out every host`);
      targets = names.length === 0 ? resolveHosts(undefined, loaded.config) : names.flatMap((name) => resolveHosts(name, loaded.config, more));
    }
    if (options.json) {
      io.stdout.write(jsonDocument('hosts', { hosts: targets }));
      return { exitCode: 0 };
    }
    const rows = targets.map((t) => (t.kind === 'local' ? [t.name, '(this machine)', '', ''] : [t.name, t.address, String(t.port), t.user]));
    io.stdout.write(formatTable(['NAME', 'ADDRESS', 'PORT', 'USER'], rows));
    io.stderr.write(`herd: ${targets.length} host${targets.length === 1 ? '' : 's'}\n`);
    return { exitCode: 0 };
  },
};
