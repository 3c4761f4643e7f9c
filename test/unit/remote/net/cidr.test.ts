import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assignable, formatCidr, formatIp, overlaps, parseCidr, parseIp } from '../../../../src/remote/net/cidr.ts';
import { codeOf } from '../../helpers/codeOf.ts';

test('IPv4 and CIDR parsing, formatting and arithmetic', () => {
  assert.is(formatIp(parseIp('10.1.2.3', 'f')), '10.1.2.3');
  assert.is(formatCidr(parseCidr('172.20.0.0/16', 'f')), '172.20.0.0/16');
  for (const bad of ['10.1.2', '10.1.2.300', 'a.b.c.d']) assert.is(codeOf(() => parseIp(bad, 'f')), 'INVALID_SPEC', bad);
  for (const bad of ['10.0.0.1/24', '10.0.0.0/33', '10.0.0.0/4', '10.0.0.0']) assert.is(codeOf(() => parseCidr(bad, '--cidr')), 'INVALID_SPEC', bad);
  assert.ok(overlaps(parseCidr('10.0.0.0/16', 'f'), parseCidr('10.0.5.0/24', 'f')));
  assert.not.ok(overlaps(parseCidr('10.0.0.0/24', 'f'), parseCidr('10.0.1.0/24', 'f')));
  const net = parseCidr('10.0.0.0/24', 'f');
  const gw = parseIp('10.0.0.1', 'f');
  assert.not.ok(assignable(net, gw, parseIp('10.0.0.0', 'f')), 'network address');
  assert.not.ok(assignable(net, gw, gw), 'gateway');
  assert.not.ok(assignable(net, gw, parseIp('10.0.0.255', 'f')), 'broadcast');
  assert.not.ok(assignable(net, gw, parseIp('10.0.1.5', 'f')), 'outside');
  assert.ok(assignable(net, gw, parseIp('10.0.0.7', 'f')));
});

test.run();
