import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bind, devpts, keepingSourceFlags, proc, READ_ONLY, SEALED, tmpfs } from '../../../../src/remote/sandbox/mounts.ts';

test('bind: bind or rbind, then propagation, the flags in a fixed order, X-mount.mkdir last', () => {
  assert.equal(bind('/usr', '/j/root/usr', READ_ONLY), { source: '/usr', target: '/j/root/usr', type: 'none', options: 'bind,ro,nosuid,nodev' });
  assert.is(bind('/sys', '/t', { ...SEALED, recursive: true }).options, 'rbind,ro,nosuid,nodev,noexec');
  assert.is(bind('/j/root', '/j/root', { private: true }).options, 'bind,private');
  assert.is(bind('/r', '/t', { mkdir: true, ro: true }).options, 'bind,ro,X-mount.mkdir');
  assert.is(bind('/dev/null', '/t', { noexec: true, nosuid: true }).options, 'bind,nosuid,noexec', 'order is fixed, not the caller\'s');
});

test('tmpfs, proc and devpts: flags, then their own options; an owner only when given', () => {
  assert.equal(tmpfs('herd-tmp', '/t', { nosuid: true, nodev: true, mode: '1777', size: 1024 }), { source: 'herd-tmp', target: '/t', type: 'tmpfs', options: 'nosuid,nodev,mode=1777,size=1024' });
  assert.is(tmpfs('herd-run', '/t', { nosuid: true, mode: '755', size: '4m', owner: { uid: 7, gid: 8 } }).options, 'nosuid,mode=755,size=4m,uid=7,gid=8');
  assert.equal(proc('/t', { nosuid: true, nodev: true, noexec: true }), { source: 'proc', target: '/t', type: 'proc', options: 'nosuid,nodev,noexec' });
  assert.is(devpts('/t', { nosuid: true, noexec: true }).options, 'newinstance,ptmxmode=0666,mode=620,nosuid,noexec');
});

test('keepingSourceFlags: a bind keeps the locked flags of its source\'s mount (noexec home), gains nothing it lacks; other mounts are as they were', () => {
  const m = (mountPoint: string, options: string) => ({ mountPoint, fsType: 'ext4', source: '/dev/x', device: '1:1', superOptions: [], mountOptions: options.split(',') });
  const mounts = [m('/', 'rw,relatime'), m('/home', 'rw,nosuid,nodev,noexec,relatime')];
  const work = bind('/home/ann/.cache/herd/jobs/j/work', '/j/root/work', { nosuid: true, nodev: true });
  assert.is(keepingSourceFlags(work, mounts).options, 'bind,nosuid,nodev,noexec');
  assert.is(keepingSourceFlags(bind('/usr', '/j/root/usr', READ_ONLY), mounts).options, 'bind,ro,nosuid,nodev', 'the root\'s mount has none of them');
  const shm = tmpfs('herd-shm', '/j/root/dev/shm', { nosuid: true, mode: '1777', size: 1 });
  assert.equal(keepingSourceFlags(shm, mounts), shm);
});

test.run();
