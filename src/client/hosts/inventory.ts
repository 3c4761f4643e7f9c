import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { HerdError } from '../../protocol/errors.ts';

/** A host as an Ansible inventory gives it (ansible_host, ansible_port, ansible_user). */
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

type Vars = Record<string, unknown>;

interface GroupDraft {
  hosts: Map<string, Vars>;
  children: Set<string>;
  vars: Vars;
}

/** Ansible's host patterns in inventories: `web[01:20]`, `db-[a:c]`, `n[1:10:2]` (a stride). */
export function expandInventoryName(pattern: string): string[] {
  const match = /^(.*?)\[([^\]]+)\](.*)$/.exec(pattern);
  if (match === null) return [pattern];
  const [, head, range, tail] = match as unknown as [string, string, string, string];
  const parts = range.split(':');
  if (parts.length < 2 || parts.length > 3) throw new HerdError('INVALID_SPEC', `inventory: "${pattern}": a range is [START:END] or [START:END:STEP]`);
  const [from, to, stepText] = parts as [string, string, string | undefined];
  const step = stepText === undefined ? 1 : Number(stepText);
  if (!Number.isInteger(step) || step < 1) throw new HerdError('INVALID_SPEC', `inventory: "${pattern}": bad step`);
  const values: string[] = [];
  if (/^\d+$/.test(from) && /^\d+$/.test(to)) {
    const width = from.length > 1 && from.startsWith('0') ? from.length : 0;
    for (let n = Number(from); n <= Number(to); n += step) values.push(String(n).padStart(width, '0'));
  } else if (/^[a-z]$/i.test(from) && /^[a-z]$/i.test(to)) {
    for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c += step) values.push(String.fromCharCode(c));
  } else {
    throw new HerdError('INVALID_SPEC', `inventory: "${pattern}": a range is of numbers or of single letters`);
  }
  return values.flatMap((v) => expandInventoryName(`${head}${v}${tail}`));
}

function group(groups: Map<string, GroupDraft>, name: string): GroupDraft {
  let draft = groups.get(name);
  if (draft === undefined) {
    draft = { hosts: new Map(), children: new Set(), vars: {} };
    groups.set(name, draft);
  }
  return draft;
}

/** `key=value key2="quoted value"` after a host name in an INI inventory. */
function parseIniVars(text: string): Vars {
  const vars: Vars = {};
  for (const m of text.matchAll(/(\w+)=("([^"]*)"|'([^']*)'|(\S+))/g)) vars[m[1]!] = m[3] ?? m[4] ?? m[5]!;
  return vars;
}

function readIni(text: string, source: string): Map<string, GroupDraft> {
  const groups = new Map<string, GroupDraft>();
  let section: { name: string; kind: 'hosts' | 'children' | 'vars' } = { name: 'ungrouped', kind: 'hosts' };
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\s[#;].*$/, '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([^\]:]+)(?::(children|vars))?\]$/.exec(line);
    if (header !== null) {
      section = { name: header[1]!, kind: (header[2] as 'children' | 'vars' | undefined) ?? 'hosts' };
      group(groups, section.name);
      return;
    }
    const current = group(groups, section.name);
    if (section.kind === 'children') current.children.add(line);
    else if (section.kind === 'vars') {
      const eq = line.indexOf('=');
      if (eq <= 0) throw new HerdError('CONFIG', `${source}:${index + 1}: expected key=value in [${section.name}:vars]`);
      current.vars[line.slice(0, eq).trim()] = line.slice(eq + 1).trim().replace(/^["']|["']$/g, '');
    } else {
      const [first, ...rest] = line.split(/\s+/);
      const vars = parseIniVars(rest.join(' '));
      // `host:port` is INI shorthand for ansible_port.
      const withPort = /^(.+):(\d+)$/.exec(first!);
      if (withPort !== null && vars.ansible_port === undefined) vars.ansible_port = withPort[2];
      for (const name of expandInventoryName(withPort?.[1] ?? first!)) current.hosts.set(name, vars);
    }
  });
  return groups;
}

function readYamlGroup(groups: Map<string, GroupDraft>, name: string, value: unknown, source: string): void {
  const draft = group(groups, name);
  if (value === null || value === undefined) return;
  if (typeof value !== 'object' || Array.isArray(value)) throw new HerdError('CONFIG', `${source}: group ${name} must be a mapping (hosts, children, vars)`);
  const g = value as { hosts?: unknown; children?: unknown; vars?: unknown };
  if (g.hosts !== undefined && g.hosts !== null) {
    if (typeof g.hosts !== 'object' || Array.isArray(g.hosts)) throw new HerdError('CONFIG', `${source}: ${name}.hosts must be a mapping of host names`);
    for (const [pattern, vars] of Object.entries(g.hosts as Record<string, unknown>)) {
      for (const host of expandInventoryName(pattern)) draft.hosts.set(host, (vars ?? {}) as Vars);
    }
  }
  if (g.vars !== undefined && g.vars !== null) Object.assign(draft.vars, g.vars as Vars);
  if (g.children !== undefined && g.children !== null) {
    for (const [child, childValue] of Object.entries(g.children as Record<string, unknown>)) {
      draft.children.add(child);
      readYamlGroup(groups, child, childValue, source);
    }
  }
}

/**
 * An Ansible inventory (`-i FILE`, YAML or INI): its hosts with their address, port and user,
 * and its groups, usable as `@group` in -H. Group vars apply to the hosts of the group and of
 * its children; a host's own vars win.
 */
export function parseInventory(text: string, source: string): Inventory {
  const trimmed = text.trimStart();
  const looksIni = trimmed.startsWith('[') || /^[^:\n]+\s+\w+=/m.test(trimmed) || !/:\s*(\n|$)/.test(trimmed);
  const drafts = new Map<string, GroupDraft>();
  if (looksIni) {
    for (const [name, draft] of readIni(text, source)) drafts.set(name, draft);
  } else {
    let doc: unknown;
    try {
      doc = parse(text);
    } catch (err) {
      throw new HerdError('CONFIG', `${source}: ${(err as Error).message.split('\n')[0]}`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new HerdError('CONFIG', `${source}: an inventory is a mapping of groups (all:, web:, ...)`);
    for (const [name, value] of Object.entries(doc as Record<string, unknown>)) readYamlGroup(drafts, name, value, source);
  }
  const all = group(drafts, 'all');
  for (const name of drafts.keys()) if (name !== 'all') all.children.add(name);

  // Each group's hosts, children's included; each host's vars, outer groups first.
  const groups = new Map<string, string[]>();
  const membersOf = (name: string, path: readonly string[]): string[] => {
    const known = groups.get(name);
    if (known !== undefined) return known;
    if (path.includes(name)) throw new HerdError('CONFIG', `${source}: group ${name} is its own child`);
    const draft = drafts.get(name);
    const members = new Set<string>(draft?.hosts.keys() ?? []);
    for (const child of draft?.children ?? []) for (const host of membersOf(child, [...path, name])) members.add(host);
    const list = [...members];
    groups.set(name, list);
    return list;
  };
  for (const name of drafts.keys()) membersOf(name, []);

  const vars = new Map<string, Vars>();
  const apply = (name: string, inherited: Vars, path: readonly string[]): void => {
    const draft = drafts.get(name);
    if (draft === undefined || path.includes(name)) return;
    const mine = { ...inherited, ...draft.vars };
    for (const [host, hostVars] of draft.hosts) vars.set(host, { ...(vars.get(host) ?? {}), ...mine, ...hostVars });
    for (const child of draft.children) apply(child, mine, [...path, name]);
  };
  apply('all', {}, []);

  const hosts = new Map<string, InventoryHost>();
  for (const name of groups.get('all') ?? []) {
    const v = vars.get(name) ?? {};
    const host: InventoryHost = {};
    if (v.ansible_host !== undefined) host.address = String(v.ansible_host);
    if (v.ansible_port !== undefined) {
      const port = Number(v.ansible_port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new HerdError('CONFIG', `${source}: ${name}: ansible_port ${String(v.ansible_port)} is not a port`);
      host.port = port;
    }
    if (v.ansible_user !== undefined) host.user = String(v.ansible_user);
    hosts.set(name, host);
  }
  return { hosts, groups };
}

export function loadInventory(path: string): Inventory {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new HerdError('CONFIG', `cannot read the inventory ${path}: ${(err as Error).message}`);
  }
  return parseInventory(text, path);
}
