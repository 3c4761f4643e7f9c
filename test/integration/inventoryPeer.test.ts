import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseYaml } from 'yaml';
import { parseInventory, type Inventory, type InventoryHost } from '../../src/client/hosts/inventory.ts';
import { corpus } from './corpus.ts';
import { gate } from './harness.ts';

/*
 * herd's reading of Ansible inventories against Ansible itself, on a generated corpus: for every
 * file, the hosts, each group's members (children's included) and each host's address, port and
 * user equal what `ansible-inventory -i FILE --list` gives, or both refuse the file. INI and YAML
 * (and JSON), with and without an extension; ranges of every form, host:port, IPv6, ungrouped
 * hosts, children declared later, group variables in Ansible's precedence (depth, priority,
 * name), ansible_ssh_* names, Python literals in INI values. What herd does differently on purpose
 * is listed in docs/hosts.md and left out of the corpus (ports that are not numbers, scripts).
 */
const Peer = suite('inventories as Ansible: ansible-inventory --list on a generated corpus');
const enabled = gate('inventoryPeer.test.ts', { commands: ['ansible-inventory'] });

const { pick, int, chance } = corpus(20261205);

const GROUPS = ['web', 'db', 'eu', 'us', 'prod', 'a_grp', 'zz', 'edge'];

/** Off for JSON files: see the note on YAML mistakes in docs/hosts.md (herd refuses, Ansible keeps part of the file). */
let mistakes = true;

function hostPattern(): string {
  if (mistakes && chance(0.015)) return pick(['bad:', 'y[01:3]', 'q[1:3:0]', 'w[1:2]x[', '---']);
  return pick([
    'web1', 'web2', 'db1', 'h1', 'h2', 'app.example.com', 'web[1:3]', 'db-[a:c]', 'n[01:03]', 'z[:2]', 'h[1:5:2]', 'host1:2222', 'web1:2200',
    '[2001:db8::1]:2200', '2001:db8::2', '10.0.0.[1:3]', 'r[1:2]-n[1:2]', 'k[ab:cd]', 'gpu12-0', 'x[3:1]', '10.1.2.3:22',
  ]);
}

const PORTS = ['22', '2222', '0x50', '"2200"', "'2201'", '2_222', '65535'];
const USERS = ['deploy', '"a b"', "'quoted'", 'True', 'None', '007', 'root', '"x" # c', '[1]'];
const ADDRESSES = ['10.0.0.9', '"10.0.0.10"', 'web1.internal', "'h.example.com'", '2001:db8::9'];

function varAssignment(): [string, string] {
  const ssh = chance(0.3) ? 'ssh_' : '';
  switch (int(0, 4)) {
    case 0:
      return [`ansible_${ssh}port`, pick(PORTS)];
    case 1:
      return [`ansible_${ssh}user`, pick(USERS)];
    case 2:
      return [`ansible_${ssh}host`, pick(ADDRESSES)];
    case 3:
      return ['ansible_group_priority', pick(['0', '1', '5', '10'])];
    default:
      return ['v', pick(['1', 'x', '"y z"'])];
  }
}

function ini(): string {
  const lines: string[] = [];
  if (chance(0.4)) for (let i = 0, n = int(1, 3); i < n; i++) lines.push(hostPattern());
  const declared: string[] = [];
  const referenced = new Set<string>();
  for (let s = 0, n = int(1, 5); s < n; s++) {
    const group = pick(GROUPS);
    const kind = pick(['', '', '', ':vars', ':children']);
    lines.push(`${chance(0.1) ? pick(['# comment', '; comment', '']) + '\n' : ''}[${group}${kind}]${chance(0.1) ? ' # note' : ''}`);
    if (kind === '') declared.push(group);
    else referenced.add(group);
    for (let i = 0, m = int(1, 4); i < m; i++) {
      if (kind === ':vars') {
        const [k, v] = varAssignment();
        lines.push(`${k}${pick(['=', ' = '])}${v}`);
      } else if (kind === ':children') {
        const child = pick(GROUPS.filter((g) => g !== group));
        referenced.add(child);
        lines.push(child);
      }
      else {
        const vars = Array.from({ length: int(0, 2) }, () => varAssignment().join('=').replace(/ # c$/, ''));
        lines.push([hostPattern(), ...vars].join(' ') + (chance(0.1) ? ' # trailing' : ''));
      }
    }
  }
  // Most groups named in :vars and :children are declared somewhere (Ansible refuses the file otherwise).
  for (const group of referenced) if (!declared.includes(group) && chance(0.85)) lines.push(`[${group}]`, hostPattern());
  return `${lines.join('\n')}\n`;
}

function yamlValue(text: string): string {
  // INI literals turned into YAML scalars of the same spirit.
  return text.replace(/ # c$/, '').replace(/^'(.*)'$/, '"$1"');
}

function yamlGroup(depth: number, indent: string, above: readonly string[]): string[] {
  const lines: string[] = [];
  if (chance(0.8)) {
    lines.push(`${indent}hosts:`);
    for (let i = 0, n = int(1, 3); i < n; i++) {
      const pattern = hostPattern();
      const key = /[[\]:#]/.test(pattern) ? `"${pattern}"` : pattern;
      if (chance(0.5)) lines.push(`${indent}  ${key}:`);
      else {
        lines.push(`${indent}  ${key}:`);
        for (let j = 0, m = int(1, 2); j < m; j++) {
          const [k, v] = varAssignment();
          lines.push(`${indent}    ${k}: ${yamlValue(v)}`);
        }
      }
    }
  }
  if (chance(0.5)) {
    lines.push(`${indent}vars:`);
    for (let j = 0, m = int(1, 3); j < m; j++) {
      const [k, v] = varAssignment();
      lines.push(`${indent}  ${k}: ${yamlValue(v)}`);
    }
  }
  if (depth < 2 && chance(0.5)) {
    lines.push(`${indent}children:`);
    for (let c = 0, n = int(1, 2); c < n; c++) {
      const child = pick(GROUPS.filter((g) => !above.includes(g)));
      lines.push(`${indent}  ${child}:`);
      lines.push(...yamlGroup(depth + 1, `${indent}    `, [...above, child]));
    }
  }
  return lines;
}

function yaml(): string {
  const lines: string[] = [];
  if (chance(0.8)) {
    lines.push('all:');
    lines.push(...yamlGroup(0, '  ', ['all']));
  }
  for (let g = 0, n = int(0, 2); g < n; g++) {
    const group = pick(GROUPS);
    lines.push(`${group}:`);
    lines.push(...yamlGroup(1, '  ', ['all', group]));
  }
  if (lines.length === 0) lines.push('all:');
  return `${lines.join('\n')}\n`;
}

interface Oracle {
  refused: boolean;
  hosts: string[];
  groups: Record<string, string[]>;
  connection: Record<string, InventoryHost>;
}

function run(file: string, home: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ansible-inventory', ['-i', file, '--list'], { env: { ...process.env, HOME: home, ANSIBLE_LOCAL_TEMP: join(home, 'tmp'), ANSIBLE_NOCOLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The connection variables as herd takes them (the later of ansible_X and ansible_ssh_X), from Ansible's combined variables. */
function connectionOf(vars: Record<string, unknown>): InventoryHost {
  const pickVar = (...keys: string[]): unknown => keys.map((k) => vars[k]).filter((v) => v !== undefined && v !== null).at(-1);
  const host: InventoryHost = {};
  const address = pickVar('ansible_host', 'ansible_ssh_host');
  const port = pickVar('ansible_port', 'ansible_ssh_port');
  const user = pickVar('ansible_user', 'ansible_ssh_user');
  if (address !== undefined) host.address = String(address);
  if (port !== undefined) host.port = Number(port);
  if (user !== undefined) host.user = Array.isArray(user) ? String(user) : String(user);
  return host;
}

async function oracle(file: string, home: string): Promise<Oracle> {
  const r = await run(file, home);
  if (r.code !== 0 || /Unable to parse .* as an inventory source/s.test(r.stderr.replace(/\n/g, ' '))) return { refused: true, hosts: [], groups: {}, connection: {} };
  const doc = JSON.parse(r.stdout) as Record<string, { hosts?: string[]; children?: string[] }> & { _meta: { hostvars: Record<string, Record<string, unknown>> } };
  const members = (name: string, seen = new Set<string>()): string[] => {
    if (seen.has(name)) return [];
    seen.add(name);
    const g = doc[name] ?? {};
    return [...(g.hosts ?? []), ...(g.children ?? []).flatMap((c) => members(c, seen))];
  };
  const groups: Record<string, string[]> = {};
  for (const name of Object.keys(doc)) {
    if (name === '_meta') continue;
    const list = [...new Set(members(name))].sort();
    if (list.length > 0) groups[name] = list;
  }
  const hosts = groups.all ?? [];
  const connection: Record<string, InventoryHost> = {};
  for (const h of hosts) connection[h] = connectionOf(doc._meta.hostvars[h] ?? {});
  return { refused: false, hosts, groups, connection };
}

function ours(text: string, file: string): Oracle {
  let inventory: Inventory;
  try {
    inventory = parseInventory(text, file);
  } catch {
    return { refused: true, hosts: [], groups: {}, connection: {} };
  }
  const groups: Record<string, string[]> = {};
  for (const [name, list] of [...inventory.groups].sort(([a], [b]) => (a < b ? -1 : 1))) if (list.length > 0) groups[name] = [...new Set(list)].sort();
  const hosts = groups.all ?? [];
  const connection: Record<string, InventoryHost> = {};
  for (const h of hosts) connection[h] = inventory.hosts.get(h) ?? {};
  return { refused: false, hosts, groups, connection };
}

const sortedKeys = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

Peer('320 inventories read as ansible-inventory --list reads them, or both refuse them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'herd-invpeer-'));
  try {
    const cases = Array.from({ length: 320 }, (_, i) => {
      const asYaml = chance(0.5);
      const ext = asYaml ? pick(['.yml', '.yaml', '.json', '', '', '.ini']) : pick(['', '.ini', '.cfg', '', '.yml']);
      mistakes = ext !== '.json';
      let text = asYaml ? yaml() : ini();
      if (ext === '.json') text = JSON.stringify(jsonOf(text));
      return { file: join(dir, `inv-${i}${ext}`), text };
    });
    for (const c of cases) writeFileSync(c.file, c.text);
    const results: Array<{ theirs: Oracle; mine: Oracle }> = [];
    // Two at a time: ansible-inventory takes a third of a second to start.
    for (let i = 0; i < cases.length; i += 2) {
      const batch = cases.slice(i, i + 2);
      const theirs = await Promise.all(batch.map((c) => oracle(c.file, dir)));
      batch.forEach((c, j) => results.push({ theirs: theirs[j]!, mine: ours(c.text, c.file) }));
    }
    const differences: string[] = [];
    results.forEach(({ theirs, mine }, i) => {
      const a = JSON.stringify({ ...theirs, groups: sortedKeys(theirs.groups), connection: sortedKeys(theirs.connection) });
      const b = JSON.stringify({ ...mine, groups: sortedKeys(mine.groups), connection: sortedKeys(mine.connection) });
      if (a !== b) differences.push(`--- ${cases[i]!.file}\n${cases[i]!.text}\nansible: ${a}\nherd:    ${b}`);
    });
    const refused = results.filter((r) => r.theirs.refused).length;
    console.log(`\n    ${results.length} inventories, ${refused} refused by both`);
    assert.is(differences.length, 0, differences.slice(0, 3).join('\n\n'));
    assert.ok(refused >= 10 && refused < results.length / 3, `a corpus with some refusals (${refused})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A YAML inventory as JSON, for the .json files of the corpus. */
function jsonOf(yamlText: string): unknown {
  return parseYaml(yamlText, { uniqueKeys: false, version: '1.1' });
}

if (enabled) Peer.run();
