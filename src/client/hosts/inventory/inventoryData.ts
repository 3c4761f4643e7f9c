import { HerdError } from '../../../protocol/errors.ts';

/*
 * An inventory as Ansible holds it (ansible/inventory/data.py, group.py, host.py): groups with
 * their direct hosts, children and variables, hosts with theirs, then reconciled (every group
 * under `all`, hosts in no group but `all` in `ungrouped`), and each host's variables combined in
 * Ansible's order: `all`, then its groups by depth, ansible_group_priority and name, then its own.
 * No I/O here.
 */
export type Vars = Record<string, unknown>;

interface GroupRecord {
  name: string;
  hosts: string[];
  children: string[];
  parents: Set<string>;
  vars: Vars;
  depth: number;
  priority: number;
}

interface HostRecord {
  name: string;
  vars: Vars;
  /** Groups it was put in directly. */
  groups: Set<string>;
}

export class InventoryData {
  readonly groups = new Map<string, GroupRecord>();
  readonly hosts = new Map<string, HostRecord>();

  constructor(private readonly source: string) {
    this.addGroup('all');
    this.addGroup('ungrouped');
  }

  addGroup(name: string): void {
    if (this.groups.has(name)) return;
    this.groups.set(name, { name, hosts: [], children: [], parents: new Set(), vars: {}, depth: 0, priority: 1 });
  }

  hasGroup(name: string): boolean {
    return this.groups.has(name);
  }

  /** A host in `group` (which must exist); the entry's port sets ansible_port only where the host is new, as in Ansible. */
  addHost(name: string, group: string, port: number | null): void {
    if (name === '') throw new HerdError('CONFIG', `${this.source}: an empty host name`);
    if (!this.groups.has(group)) throw new HerdError('CONFIG', `${this.source}: no group ${group} for host ${name}`);
    let host = this.hosts.get(name);
    if (host === undefined) {
      host = { name, vars: {}, groups: new Set() };
      this.hosts.set(name, host);
      if (port !== null) host.vars.ansible_port = port;
    }
    const g = this.groups.get(group)!;
    if (!g.hosts.includes(name)) g.hosts.push(name);
    host.groups.add(group);
  }

  setHostVar(host: string, key: string, value: unknown): void {
    this.hosts.get(host)!.vars[key] = value;
  }

  setGroupVar(group: string, key: string, value: unknown): void {
    this.addGroup(group);
    const g = this.groups.get(group)!;
    g.vars[key] = value;
    if (key === 'ansible_group_priority') {
      const n = Number(value);
      if (!Number.isInteger(n)) throw new HerdError('CONFIG', `${this.source}: group ${group}: ansible_group_priority ${String(value)} is not a whole number`);
      g.priority = n;
    }
  }

  addChild(parent: string, child: string): void {
    this.addGroup(parent);
    this.addGroup(child);
    if (parent === child) throw new HerdError('CONFIG', `${this.source}: group ${parent} cannot be its own child`);
    if (this.descendants(child).has(parent)) throw new HerdError('CONFIG', `${this.source}: adding ${child} to ${parent} creates a recursive dependency loop`);
    const p = this.groups.get(parent)!;
    const c = this.groups.get(child)!;
    if (!p.children.includes(child)) p.children.push(child);
    c.parents.add(parent);
    this.deepen(child, p.depth + 1);
  }

  /** A group's depth is the longest way down to it from a group with no parent; its children are deeper still. */
  private deepen(name: string, depth: number): void {
    const g = this.groups.get(name)!;
    if (g.depth >= depth) return;
    g.depth = depth;
    for (const child of g.children) this.deepen(child, depth + 1);
  }

  /** The groups reached from `name` by following `next` (children or parents), transitively. */
  private reach(name: string, next: (g: GroupRecord) => Iterable<string>): Set<string> {
    const seen = new Set<string>();
    const walk = (n: string): void => {
      const g = this.groups.get(n);
      if (g === undefined) return;
      for (const other of next(g)) {
        if (seen.has(other)) continue;
        seen.add(other);
        walk(other);
      }
    };
    walk(name);
    return seen;
  }

  private descendants(name: string): Set<string> {
    return this.reach(name, (g) => g.children);
  }

  private ancestors(name: string): Set<string> {
    return this.reach(name, (g) => g.parents);
  }

  /** Every group a host belongs to: those it is in and their ancestors. */
  private groupsOf(host: HostRecord): Set<string> {
    const all = new Set<string>();
    for (const g of host.groups) {
      all.add(g);
      for (const a of this.ancestors(g)) all.add(a);
    }
    return all;
  }

  /** reconcile_inventory: groups with no parent go under `all`; hosts in no other group go in `ungrouped`. */
  reconcile(): void {
    for (const g of this.groups.values()) {
      if (g.name !== 'all' && g.parents.size === 0) this.addChild('all', g.name);
    }
    const ungrouped = this.groups.get('ungrouped')!;
    for (const host of this.hosts.values()) {
      const mine = this.groupsOf(host);
      if (mine.has('ungrouped')) {
        if ([...mine].some((g) => g !== 'all' && g !== 'ungrouped')) {
          ungrouped.hosts = ungrouped.hosts.filter((h) => h !== host.name);
          host.groups.delete('ungrouped');
        }
      } else if ([...mine].every((g) => g === 'all')) {
        ungrouped.hosts.push(host.name);
        host.groups.add('ungrouped');
      }
    }
  }

  /** A host's variables as Ansible combines them: `all`, its other groups sorted by (depth, priority, name), then its own. */
  varsOf(name: string): Vars {
    const host = this.hosts.get(name)!;
    const groups = [...this.groupsOf(host)]
      .filter((g) => g !== 'all')
      .map((g) => this.groups.get(g)!)
      .sort((a, b) => a.depth - b.depth || a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const vars: Vars = { ...this.groups.get('all')!.vars };
    for (const g of groups) Object.assign(vars, g.vars);
    return Object.assign(vars, host.vars);
  }

  /** Each group's hosts, those of its descendants included, in Ansible's order (its own first). */
  members(name: string): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    const walk = (n: string): void => {
      const g = this.groups.get(n);
      if (g === undefined) return;
      for (const h of g.hosts) if (!seen.has(h)) (seen.add(h), out.push(h));
      for (const child of g.children) walk(child);
    };
    walk(name);
    return out;
  }
}
