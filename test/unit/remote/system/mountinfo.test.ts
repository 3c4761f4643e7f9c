import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseMountinfo } from '../../../../src/remote/system/mountinfo.ts';
import { MOUNTINFO } from '../../helpers/hostFixture.ts';

test('mountinfo: fields after the separator, octal escapes undone', () => {
  const mounts = parseMountinfo(MOUNTINFO);
  assert.is(mounts.length, 9);
  assert.equal(mounts[5], { mountPoint: '/home/data set', device: '254:32', fsType: 'xfs', source: '/dev/vdc', superOptions: ['rw'] });
});

test.run();
