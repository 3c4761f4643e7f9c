import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expandHostPattern, parseAnsibleAddress } from '../../../../../src/client/hosts/inventory/hostPatterns.ts';

test('host entries as Ansible reads them: ports, IPv6, ranges of every form', () => {
  const names = (p: string): string[] => expandHostPattern(p, 'test').names;
  assert.equal(expandHostPattern('web1:2222', 'test'), { names: ['web1'], port: 2222 });
  assert.equal(expandHostPattern('[2001:db8::1]:2200', 'test'), { names: ['2001:db8::1'], port: 2200 });
  assert.equal(expandHostPattern('2001:db8::2', 'test'), { names: ['2001:db8::2'], port: null });
  assert.equal(names('n[01:03]'), ['n01', 'n02', 'n03']);
  assert.equal(names('z[:2]'), ['z0', 'z1', 'z2']);
  assert.equal(names('h[1:5:2]'), ['h1', 'h3', 'h5']);
  assert.equal(names('db-[a:c]'), ['db-a', 'db-b', 'db-c']);
  assert.equal(names('k[ab:cd]'), ['ka', 'kb', 'kc'], 'a bound found in ascii_letters, as str.index finds it');
  assert.equal(names('r[1:2]-n[1:2]'), ['r1-n1', 'r1-n2', 'r2-n1', 'r2-n2']);
  assert.equal(names('x[3:1]'), []);
  assert.throws(() => names('y[01:3]'), /equal-length/);
  assert.throws(() => names('q[1:3:0]'), /step/);
  assert.is(parseAnsibleAddress('bad name'), null);
});

test.run();
