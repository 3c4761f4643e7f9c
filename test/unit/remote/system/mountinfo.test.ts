import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mountOf, parseMountinfo } from '../../../../src/remote/system/mountinfo.ts';
import { MOUNTINFO } from '../../helpers/hostFixture.ts';

test('mountinfo: fields after the separator, octal escapes undone', () => {
  const mounts = parseMountinfo(MOUNTINFO);
  assert.is(mounts.length, 9);
  assert.equal(mounts[5], { mountPoint: '/home/data set', device: '254:32', fsType: 'xfs', source: '/dev/vdc', superOptions: ['rw'], mountOptions: ['rw'] });
});

test('mountOf: the mount with the longest mount point above a path; the later one where two share it', () => {
  const m = (mountPoint: string, options: string) => ({ mountPoint, fsType: 'ext4', source: '/dev/x', device: '1:1', superOptions: [], mountOptions: options.split(',') });
  const mounts = [m('/', 'rw'), m('/home', 'rw,nosuid'), m('/home', 'rw,noexec'), m('/homework', 'ro')];
  assert.equal(mountOf(mounts, '/home/ann/.cache')?.mountOptions, ['rw', 'noexec']);
  assert.equal(mountOf(mounts, '/homeless')?.mountOptions, ['rw'], 'a mount point is a whole path component');
  assert.equal(mountOf(mounts, '/homework/x')?.mountOptions, ['ro']);
  assert.equal(mountOf(mounts, '/home')?.mountOptions, ['rw', 'noexec']);
});

test.run();
