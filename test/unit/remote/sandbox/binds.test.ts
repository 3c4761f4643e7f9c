import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkBinds } from '../../../../src/remote/sandbox/binds.ts';

const STATE = '/var/lib/herd';
const bind = (host: string, job: string, readOnly = false) => ({ host, job, readOnly });

test('a bind is checked on the host: new under /work, /tmp or /run, or over what the host has', () => {
  assert.equal(checkBinds([bind('/etc', '/work/etc', true)], STATE), [{ host: '/etc', job: '/work/etc', readOnly: true, kind: 'dir', makeTarget: true }]);
  assert.equal(checkBinds([bind('/etc/hostname', '/work/conf/name')], STATE)[0]!.kind, 'file');
  assert.equal(checkBinds([bind('/usr/share', '/opt')], STATE)[0]!.makeTarget, false, '/opt exists on the host');
  assert.equal(checkBinds([bind('/etc', '/tmp/etc')], STATE)[0]!.makeTarget, true);
});

test('binds that would reach herd\'s state, herd\'s own mounts, or nowhere are refused', () => {
  const refused: Array<[ReturnType<typeof bind>, RegExp]> = [
    [bind('/var/lib/herd', '/work/s'), /holds the host key/],
    [bind('/var/lib', '/work/s'), /holds the host key/],
    [bind('/etc', '/proc/x'), /herd mounts \/proc/],
    [bind('/etc', '/'), /bind below it/],
    [bind('etc', '/work/e'), /absolute and normal/],
    [bind('/etc/../root', '/work/e'), /absolute and normal/],
    [bind('/no/such/path', '/work/e'), /not a file or directory/],
    [bind('/etc', '/no-such-dir-on-host'), /must be under \/work, \/tmp or \/run/],
    [bind('/etc/hostname', '/tmp/name'), /a file is bound under \/work/],
  ];
  for (const [b, why] of refused) assert.throws(() => checkBinds([b], STATE), why, `${b.host}:${b.job}`);
  assert.throws(() => checkBinds([bind('/etc', '/work/a'), bind('/usr', '/work/a')], STATE), /bound twice/);
});

test.run();
