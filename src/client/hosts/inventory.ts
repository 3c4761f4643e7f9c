import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import { expandHostnameRange, parseAnsibleAddress } from './inventory/hostPatterns.ts';
import { readIniInventory } from './inventory/iniInventory.ts';
import { InventoryData, type Vars } from './inventory/inventoryData.ts';
import { loadYamlInventory, readYamlInventory } from './inventory/yamlInventory.ts';

/** A host as an Ansible inventory gives it (ansible_host, ansible_port, ansible_user, or their ansible_ssh_ forms). */
export interface InventoryHost {
  address?: string;
  port?: number;
  user?: string;
}

/** Hosts and groups of an inventory; each group lists the names of all its hosts, children's too. */
export interface Inventory {
  hosts: Map<string, InventoryHost>;
  groups: Map<string, string[]>;
}

/** Ansible's ranges in an inventory's host names: `web[01:20]`, `db-[a:c]`, `n[1:10:2]`, `z[:2]`. */
export function expandInventoryName(pattern: string): string[] {
  return pattern.includes('[') ? expandHostnameRange(pattern, 'inventory') : [pattern];
}

/** Extensions Ansible's YAML reader takes (as well as none): any other file is read as INI only. */
const YAML_EXTENSIONS = ['.yaml', '.yml', '.json'];

/**
 * The connection variables herd uses. Ansible's ssh connection lists `ansible_host` then
 * `ansible_ssh_host` (and so on) for each, and the later name wins where both are set.
 */
function hostOf(name: string, vars: Vars, source: string): InventoryHost {
  const pick = (...keys: string[]): unknown => keys.map((k) => vars[k]).filter((v) => v !== undefined && v !== null).at(-1);
  const host: InventoryHost = {};
  const address = pick('ansible_host', 'ansible_ssh_host');
  const port = pick('ansible_port', 'ansible_ssh_port');
  const user = pick('ansible_user', 'ansible_ssh_user');
  if (address !== undefined) host.address = String(address);
  if (port !== undefined) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new HerdError('CONFIG', `${source}: ${name}: ansible_port ${String(port)} is not a port`);
    host.port = n;
  }
  if (user !== undefined) host.user = String(user);
  return host;
}

function finished(inventory: InventoryData, source: string): Inventory {
  inventory.reconcile();
  const hosts = new Map<string, InventoryHost>();
  for (const name of inventory.members('all')) hosts.set(name, hostOf(name, inventory.varsOf(name), source));
  const groups = new Map<string, string[]>();
  for (const name of inventory.groups.keys()) groups.set(name, inventory.members(name));
  return { hosts, groups };
}

/**
 * An Ansible inventory, read as ansible-inventory reads it: a file named .yaml, .yml, .json or
 * without an extension is tried as YAML first, and anything the YAML reader does not take (not a
 * mapping, an error in it) as INI; other files as INI only. Variables combine in Ansible's order
 * (inventory/inventoryData.ts); `ungrouped` and `all` are as ansible-inventory --list shows them.
 */
export function parseInventory(text: string, source: string): Inventory {
  const reasons: string[] = [];
  if (extname(source) === '' || YAML_EXTENSIONS.includes(extname(source))) {
    const loaded = loadYamlInventory(text);
    if ('doc' in loaded) {
      // A mapping that fails is a YAML inventory with a mistake, and said to be: Ansible goes on to
      // read it as INI, keeping what its YAML reader had added before it failed (docs/hosts.md).
      const inventory = new InventoryData(source);
      readYamlInventory(loaded.doc, source, inventory);
      return finished(inventory, source);
    }
    reasons.push(`as YAML: ${loaded.refused}`);
  }
  try {
    const inventory = new InventoryData(source);
    readIniInventory(text, source, inventory);
    return finished(inventory, source);
  } catch (err) {
    if (!(err instanceof HerdError)) throw err;
    if (reasons.length === 0) throw err;
    throw new HerdError('CONFIG', `${source} is not an inventory: ${[...reasons, `as INI: ${err.message}`].join('; ')}`, { hint: 'ansible-inventory -i FILE --list shows how Ansible reads it' });
  }
}

/** Ansible's host list (`-i 'web1,web2:2222,'`): names separated by commas, each with an optional port; no ranges. */
export function parseHostList(list: string): Inventory {
  const inventory = new InventoryData('-i');
  for (const raw of list.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const address = parseAnsibleAddress(item);
    const host = address === null || address.host.includes('[') ? item : address.host;
    inventory.addHost(host, 'ungrouped', address === null || address.host.includes('[') ? null : address.port);
  }
  return finished(inventory, '-i');
}

/** -i: a file, or (with a comma in it and no such file) a host list as Ansible takes it. */
export function loadInventory(path: string): Inventory {
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    // not a file
  }
  if (!isFile && path.includes(',')) return parseHostList(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new HerdError('CONFIG', `cannot read the inventory ${path}: ${(err as Error).message}`, { hint: 'name an inventory file, or list hosts as -i "web1,web2,"' });
  }
  return parseInventory(text, path);
}
