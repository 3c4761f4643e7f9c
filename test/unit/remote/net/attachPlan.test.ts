import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bridgeBatch, iptablesRestore, nftRuleset, planAttach, vethName } from '../../../../src/remote/net/attachPlan.ts';
import { parseIp } from '../../../../src/remote/net/cidr.ts';
import { BUILTIN_NETWORKS, resolveNetwork, type NetworkSpec } from '../../../../src/remote/net/network.ts';

test('phase 2: the veth is born with its peer in the job, on the bridge; one batch each side', () => {
  const spec = BUILTIN_NETWORKS[0]!;
  const plan = planAttach(spec, resolveNetwork(spec), parseIp('172.20.0.9', 'f'), 'abc123def456', 4242);
  assert.is(plan.veth, 'hvabc123def456');
  assert.ok(vethName('abc123def456').length <= 15);
  assert.equal(plan.host, ['link add hvabc123def456 type veth peer name eth0 netns 4242', 'link set hvabc123def456 master herd0', 'link set hvabc123def456 up']);
  assert.equal(plan.job, ['link set lo up', 'addr add 172.20.0.9/16 dev eth0', 'link set eth0 up', 'route add default via 172.20.0.1']);
  assert.equal(plan.tc, { host: [], job: [] });
  const iso = BUILTIN_NETWORKS[1]!;
  assert.ok(planAttach(iso, resolveNetwork(iso), parseIp('172.21.0.9', 'f'), 'j', 1).host.includes('link set hvj type bridge_slave isolated on'));
  const limited = planAttach(spec, resolveNetwork(spec), parseIp('172.20.0.9', 'f'), 'j', 1, 1000);
  assert.match(limited.tc.host[0]!, /^qdisc add dev hvj root tbf rate 8000bit /);
  assert.match(limited.tc.job[0]!, /^qdisc add dev eth0 root tbf rate 8000bit /);
  assert.equal(bridgeBatch(spec, resolveNetwork(spec)), ['link add herd0 type bridge', 'addr add 172.20.0.1/16 dev herd0', 'link set herd0 up']);
});

test('nftables: herd\'s own table replaced in one transaction, NAT per network, no cross-network forwarding', () => {
  const named: NetworkSpec = { name: 'web', cidr: '10.9.0.0/24', gateway: '10.9.0.1', dns: [], bridge: 'hn-web', isolated: false, builtin: false };
  const rules = nftRuleset([...BUILTIN_NETWORKS, named]);
  const lines = rules.split('\n');
  assert.equal(lines.slice(0, 3), ['table inet herd', 'delete table inet herd', 'table inet herd {']);
  assert.ok(lines.includes('    ip saddr 172.20.0.0/16 oifname != "herd0" masquerade'));
  assert.ok(lines.includes('    ip saddr 10.9.0.0/24 oifname != "hn-web" masquerade'));
  assert.ok(lines.includes('    iifname "hn-web" oifname { "herd0", "herd-iso" } drop'));
  assert.not.match(rules, /table ip |table inet filter|flush ruleset/, 'no other table is touched');
  // Jobs of isolated and named networks reach no service of their host; the default bridge's may.
  const input = lines.slice(lines.indexOf('  chain input {'));
  assert.equal(input.slice(2, 5), ['    ct state established,related accept', '    iifname "herd-iso" drop', '    iifname "hn-web" drop']);
  assert.not.ok(input.some((l) => l.includes('"herd0"')));
  const withDns = nftRuleset([{ ...named, dns: ['10.9.0.1'] }]);
  assert.match(withDns, /iifname "hn-web" ip daddr \{ 10\.9\.0\.1 \} meta l4proto \{ udp, tcp \} th dport 53 accept\n    iifname "hn-web" drop/);
});

test('iptables fallback: only herd\'s own chains are flushed and filled', () => {
  const text = iptablesRestore(BUILTIN_NETWORKS);
  assert.equal(text.split('\n').filter((l) => l.startsWith('-F') || l.startsWith(':')), [':HERD-POSTROUTING - [0:0]', '-F HERD-POSTROUTING', ':HERD-FORWARD - [0:0]', '-F HERD-FORWARD', ':HERD-INPUT - [0:0]', '-F HERD-INPUT']);
  assert.match(text, /-A HERD-INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n-A HERD-INPUT -i herd-iso -j DROP\n/);
  assert.not.match(text, /-A HERD-INPUT -i herd0 /);
  assert.match(text, /-A HERD-POSTROUTING -s 172\.20\.0\.0\/16 ! -o herd0 -j MASQUERADE/);
  assert.match(text, /-A HERD-FORWARD -i herd0 -o herd-iso -j DROP/);
  assert.not.match(text, /-A (POSTROUTING|FORWARD|INPUT) /, 'built-in chains only get a jump, added separately');
});

test.run();
