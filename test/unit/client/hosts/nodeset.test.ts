import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveHosts } from '../../../../src/client/hosts/targets.ts';
import { expandInventoryName, parseInventory } from '../../../../src/client/hosts/inventory.ts';
import { excludeNodes, expandNodeset, foldNodeset } from '../../../../src/client/hosts/nodeset.ts';
import type { HerdError } from '../../../../src/protocol/errors.ts';

const groups = (table: Record<string, string[]>) => (name: string): string[] | undefined => table[name];

test('nodesets: ranges with padding, lists, several brackets, plain names, no repeats', () => {
  assert.equal(expandNodeset('web[01-03]'), ['web01', 'web02', 'web03']);
  assert.equal(expandNodeset('web[1-3,7],db1'), ['web1', 'web2', 'web3', 'web7', 'db1']);
  assert.equal(expandNodeset('r[1-2]-n[8-10]'), ['r1-n8', 'r1-n9', 'r1-n10', 'r2-n8', 'r2-n9', 'r2-n10']);
  assert.equal(expandNodeset('a,b,a, c'), ['a', 'b', 'c']);
  assert.equal(expandNodeset('root@10.0.0.1:2222,local'), ['root@10.0.0.1:2222', 'local']);
  assert.equal(expandNodeset('web[008-010]'), ['web008', 'web009', 'web010']);
});

test('folding: names back into the shortest nodeset, as ClusterShell prints them', () => {
  assert.is(foldNodeset(['h1', 'h2', 'h3', 'h5', 'h10', 'h11']), 'h[1-3,5,10-11]');
  assert.is(foldNodeset(['web01', 'web02', 'web03', 'db1']), 'db1,web[01-03]');
  assert.is(foldNodeset(['web08', 'web09', 'web10', 'web11']), 'web[08-11]', 'unpadded numbers of the padded width join');
  assert.is(foldNodeset(['web7', 'web07']), 'web[7,07]', 'a different spelling is a different name (kept apart in the range)');
  assert.is(foldNodeset(['r1-n8', 'r1-n9', 'r2-n8']), 'r1-n[8-9],r2-n8', 'folded on the last number');
  assert.is(foldNodeset(['h3', 'h1', 'h3', 'h2']), 'h[1-3]', 'in order, once each');
  assert.is(foldNodeset(['local', 'root@10.0.0.1:2222', 'root@10.0.0.2:2222']), 'local,root@10.0.0.1:2222,root@10.0.0.2:2222', 'user@host:port stays as written');
  assert.is(foldNodeset(['10.0.0.5', '10.0.0.6']), '10.0.0.[5-6]');
  assert.is(foldNodeset(['gpu1a', 'gpu2a', 'gpu3b']), 'gpu[1-2]a,gpu3b');
  assert.is(foldNodeset([]), '');
});

test('folding then expanding gives the same names back (random sets)', () => {
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const shapes = [(n: number) => `web${n}`, (n: number) => `web${String(n).padStart(3, '0')}`, (n: number) => `rack2-node${n}`, (n: number) => `db${n}x`, () => 'local'];
  for (let round = 0; round < 300; round++) {
    const names = Array.from({ length: 1 + random(40) }, () => shapes[random(shapes.length)]!(random(120)));
    const folded = foldNodeset(names);
    assert.equal(new Set(expandNodeset(folded)), new Set(names), `${names.join(',')} -> ${folded}`);
  }
});

test('nodesets: groups, nested, cycles and unknown groups are errors; -x takes hosts out', () => {
  const lookup = groups({ web: ['web[1-3]'], all: ['@web', 'db1'], loop: ['@loop2'], loop2: ['@loop'] });
  assert.throws(() => expandNodeset('@all'), (e: HerdError) => e.code === 'INVALID_SPEC', 'no groups without a lookup');
  assert.equal(expandNodeset('@all', lookup), ['web1', 'web2', 'web3', 'db1']);
  assert.throws(() => expandNodeset('@loop', lookup), (e: HerdError) => e.code === 'INVALID_SPEC' && /contains itself/.test(e.message));
  assert.throws(() => expandNodeset('@nope', lookup), (e: HerdError) => e.code === 'INVALID_SPEC' && /no group @nope/.test(e.message));
  assert.equal(excludeNodes(expandNodeset('@all', lookup), 'web[2-3]', lookup), ['web1', 'db1']);
});

test('nodesets: malformed and oversized expressions are refused', () => {
  for (const bad of ['web[1-', 'web1]', 'web[a-b]', 'web[5-1]', 'n[1-100000000]', 'a[1-1000]b[1-1000]']) {
    assert.throws(() => expandNodeset(bad), (e: HerdError) => e.code === 'INVALID_SPEC', bad);
  }
});

test('inventory names: numeric and letter ranges, strides', () => {
  assert.equal(expandInventoryName('web[01:03].example.com'), ['web01.example.com', 'web02.example.com', 'web03.example.com']);
  assert.equal(expandInventoryName('db-[a:c]'), ['db-a', 'db-b', 'db-c']);
  assert.equal(expandInventoryName('n[1:9:4]'), ['n1', 'n5', 'n9']);
});

const INI = `
# a comment
lonely ansible_host=10.9.9.9

[web]
web[1:2] ansible_port=2201
web3:2203

[db]
db1 ansible_host=10.0.0.5 ansible_user="root"

[prod:children]
web
db

[prod:vars]
ansible_user=deploy
`;

test('inventory (INI): hosts, ranges, host:port, groups, children, group vars under host vars', () => {
  const inv = parseInventory(INI, 'inv.ini');
  assert.equal(inv.groups.get('prod'), ['web1', 'web2', 'web3', 'db1']);
  assert.equal(inv.groups.get('ungrouped'), ['lonely']);
  assert.equal(inv.hosts.get('web1'), { port: 2201, user: 'deploy' });
  assert.equal(inv.hosts.get('web3'), { port: 2203, user: 'deploy' });
  assert.equal(inv.hosts.get('db1'), { address: '10.0.0.5', user: 'root' });
  assert.equal(inv.hosts.get('lonely'), { address: '10.9.9.9' });
  assert.ok(inv.groups.get('all')!.length === 5);
});

const YAML = `
all:
  vars:
    ansible_user: ops
  hosts:
    bastion:
      ansible_host: 10.1.0.1
  children:
    web:
      hosts:
        web[01:02]:
          ansible_port: 2222
    db:
      hosts:
        db1:
      vars:
        ansible_user: postgres
`;

test('inventory (YAML): all, hosts with vars, children, inherited vars', () => {
  const inv = parseInventory(YAML, 'inv.yml');
  assert.equal(inv.groups.get('web'), ['web01', 'web02']);
  assert.equal(inv.hosts.get('web01'), { port: 2222, user: 'ops' });
  assert.equal(inv.hosts.get('db1'), { user: 'postgres' });
  assert.equal(inv.hosts.get('bastion'), { address: '10.1.0.1', user: 'ops' });
  const targets = resolveHosts('@web,db1', { groups: { extra: 'x[1-2]' } }, { inventory: inv, exclude: 'web02' });
  assert.equal(
    targets.map((t) => (t.kind === 'ssh' ? `${t.user}@${t.address}:${t.port}` : t.name)),
    ['ops@web01:2222', 'postgres@db1:22'],
  );
});

test('config groups are nodesets and win over inventory groups of the same name', () => {
  const inv = parseInventory(YAML, 'inv.yml');
  const targets = resolveHosts('@web', { groups: { web: ['h[1-2]'] }, hosts: { h1: { address: '10.0.0.1' } } }, { inventory: inv });
  assert.equal(targets.map((t) => t.name), ['h1', 'h2']);
  assert.throws(() => resolveHosts('h1', {}, { exclude: 'h1' }), (e: HerdError) => e.code === 'INVALID_SPEC' && /names no host/.test(e.message));
});

test('ClusterShell\'s steps, operators (left to right), padding rules and numbers past 2^53', () => {
  assert.equal(expandNodeset('node[1-10/2]'), ['node1', 'node3', 'node5', 'node7', 'node9']);
  assert.equal(expandNodeset('n[001-010/3]'), ['n001', 'n004', 'n007', 'n010']);
  assert.equal(expandNodeset('a[1-5]!a3'), ['a1', 'a2', 'a4', 'a5']);
  assert.equal(expandNodeset('a[1-5]&a[3-9]'), ['a3', 'a4', 'a5']);
  assert.equal(expandNodeset('a[1-5]^a[3-9]'), ['a1', 'a2', 'a6', 'a7', 'a8', 'a9']);
  assert.equal(expandNodeset('a[1-3]!a[2-5],a9'), ['a1', 'a9'], 'one precedence, left to right');
  assert.equal(expandNodeset('n[9007199254740993]'), ['n9007199254740993']);
  assert.equal(expandNodeset('n[099-101]'), ['n099', 'n100', 'n101']);
  for (const bad of ['n[01-3]', 'n[1-010]', 'a,,b', 'a,', '!a', 'x[3-1]', 'n[1-3/0]', 'n[]', 'n[1-3', 'n1]', 'n[a-c]', 'n[[1]]']) {
    assert.throws(() => expandNodeset(bad), (e: HerdError) => e.code === 'INVALID_SPEC', bad);
  }
  assert.throws(() => expandNodeset('n[1-99999999999999999999]'), (e: HerdError) => e.code === 'INVALID_SPEC' && /more than 100000/.test(e.message), 'a huge range is refused at once');
  assert.equal(excludeNodes(expandNodeset('a[1-6]'), 'a[1-5]!a3', () => undefined), ['a3', 'a6'], '-x takes an expression too');
});

test('folding over several numbers and trailing constants, as nodeset -f', () => {
  assert.is(foldNodeset(expandNodeset('gpu[12-40]-0')), 'gpu[12-40]-0');
  assert.is(foldNodeset(expandNodeset('rack[1-2]-node[1-2]')), 'rack[1-2]-node[1-2]');
  assert.is(foldNodeset(['rack1-node1', 'rack2-node1', 'rack2-node2']), 'rack[1-2]-node1,rack2-node2');
  assert.is(foldNodeset(['n009', 'n010', 'n9', 'n10']), 'n[9-10,009-010]');
});

test.run();
