import { parse } from 'yaml';
import { HerdError } from '../../../protocol/errors.ts';
import { expandHostPattern } from './hostPatterns.ts';
import type { InventoryData } from './inventoryData.ts';

/*
 * Ansible's YAML inventory (ansible/plugins/inventory/yaml.py): each top-level key a group, each
 * group a mapping of `hosts`, `vars` and `children` (a child is a group of the same form), a host
 * key a pattern as in INI (`web[01:10]`, `db1:2222`, `[2001:db8::1]:22`). YAML 1.1, as Ansible's
 * loader (`yes` is true). No I/O here.
 */
const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The parsed document, or why the YAML reader does not take the file (Ansible then tries INI). */
export function loadYamlInventory(text: string): { doc: Record<string, unknown> } | { refused: string } {
  let doc: unknown;
  try {
    // JSON is YAML too (an inventory.json), and the uniqueKeys check is Ansible's duplicate-key warning, not an error.
    doc = parse(text, { version: '1.1', uniqueKeys: false, maxAliasCount: 1000 });
  } catch (err) {
    return { refused: `not YAML: ${(err as Error).message.split('\n')[0]}` };
  }
  if (doc === null || doc === undefined || doc === '' || (isMapping(doc) && Object.keys(doc).length === 0)) return { refused: 'Parsed empty YAML file' };
  if (!isMapping(doc)) return { refused: 'YAML inventory has invalid structure, it should be a dictionary' };
  if (doc.plugin !== undefined && doc.plugin !== null && doc.plugin !== '') return { refused: 'Plugin configuration YAML file, not YAML inventory (herd reads no inventory plugins)' };
  return { doc };
}

export function readYamlInventory(doc: Record<string, unknown>, source: string, inventory: InventoryData): void {
  const fail = (what: string): never => {
    throw new HerdError('CONFIG', `${source}: ${what}`, { hint: 'ansible-inventory -i FILE --list shows how Ansible reads it' });
  };
  const readGroup = (name: string, data: unknown): string => {
    if (!isMapping(data) && data !== null && data !== undefined) return name; // Ansible warns and skips it
    inventory.addGroup(name);
    if (!isMapping(data)) return name;
    for (const section of ['vars', 'children', 'hosts']) {
      const value = data[section];
      // A string is allowed and means a mapping of it to nothing.
      if (typeof value === 'string') data[section] = { [value]: null };
      else if (value !== undefined && value !== null && !isMapping(value)) fail(`Invalid "${section}" entry for "${name}" group, requires a dictionary`);
    }
    for (const [key, value] of Object.entries(data)) {
      if (!isMapping(value)) continue;
      if (key === 'vars') for (const [k, v] of Object.entries(value)) inventory.setGroupVar(name, k, v);
      else if (key === 'children') {
        for (const [child, childData] of Object.entries(value)) {
          const added = readGroup(child, childData);
          if (!inventory.hasGroup(added)) fail(`${added} is not a known host nor group`);
          inventory.addChild(name, added);
        }
      } else if (key === 'hosts') {
        for (const [pattern, hostVars] of Object.entries(value)) {
          const { names, port } = expandHostPattern(pattern, source);
          const vars = hostVars === null || hostVars === undefined || hostVars === '' ? {} : hostVars;
          if (!isMapping(vars)) fail(`host ${pattern} in group ${name}: its variables must be a mapping`);
          for (const host of names) {
            inventory.addHost(host, name, port);
            for (const [k, v] of Object.entries(vars)) inventory.setHostVar(host, k, v);
          }
        }
      }
    }
    return name;
  };
  for (const [name, data] of Object.entries(doc)) readGroup(name, data);
}
