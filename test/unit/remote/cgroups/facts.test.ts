import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expandCpuList, splitDevice } from '../../../../src/remote/cgroups/facts.ts';

test('device numbers and CPU lists as the kernel writes them', () => {
  assert.equal(splitDevice(0xfe00), { major: 254, minor: 0 });
  assert.equal(splitDevice(0x0701), { major: 7, minor: 1 });
  assert.equal(splitDevice(259 * 256 + 3), { major: 259, minor: 3 });
  assert.equal(expandCpuList('0-3,6\n'), [0, 1, 2, 3, 6]);
});

test.run();
