import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIp, parseIp } from '../../../../src/remote/net/cidr.ts';
import { bridgeName, resolveNetwork, validateNetworkName, type NetworkSpec } from '../../../../src/remote/net/network.ts';
import { codeOf } from '../../helpers/codeOf.ts';

test('networks: names, gateway and range checked, each error naming its option', () => {
  const spec: NetworkSpec = { name: 'web', cidr: '10.9.0.0/24', gateway: '10.9.0.1', dns: [], bridge: bridgeName('web'), isolated: false, builtin: false };
  const r = resolveNetwork(spec);
  assert.equal([formatIp(r.first), formatIp(r.last)], ['10.9.0.1', '10.9.0.254']);
  assert.is(resolveNetwork({ ...spec, range: { start: '10.9.0.100', end: '10.9.0.150' } }).first, parseIp('10.9.0.100', 'f'));
  assert.is(codeOf(() => resolveNetwork({ ...spec, gateway: '10.8.0.1' })), 'INVALID_SPEC');
  assert.is(codeOf(() => resolveNetwork({ ...spec, range: { start: '10.9.0.150', end: '10.9.0.100' } })), 'INVALID_SPEC');
  assert.is(codeOf(() => resolveNetwork({ ...spec, dns: ['nine'] })), 'INVALID_SPEC');
  for (const bad of ['Web', 'a_b', '-x', 'waytoolongname', 'none', 'host', 'bridge']) assert.is(codeOf(() => validateNetworkName(bad)), 'INVALID_SPEC', bad);
  validateNetworkName('db-1');
  assert.ok(bridgeName('abcdefghijkl').length <= 15, 'bridge names fit the kernel\'s 15 characters');
});

test.run();
