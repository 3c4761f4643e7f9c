import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSshConfig } from '../../../../src/client/hosts/sshConfigParse.ts';
import { resolveHosts } from '../../../../src/client/hosts/targets.ts';
import { HerdError } from '../../../../src/protocol/errors.ts';

test('hosts: local by default, names from the config, user@host:port', () => {
  assert.equal(resolveHosts(undefined, {}), [{ kind: 'local', name: 'local' }]);
  const config = { hosts: { web1: { address: '10.0.0.5', port: 2222, user: 'deploy' } } };
  const [web1, adhoc] = resolveHosts('web1,ops@db1:2200', config);
  assert.equal(web1, { kind: 'ssh', name: 'web1', address: '10.0.0.5', port: 2222, user: 'deploy' });
  assert.equal(adhoc, { kind: 'ssh', name: 'ops@db1:2200', address: 'db1', port: 2200, user: 'ops', alias: 'db1' });
  assert.throws(() => resolveHosts('a b', {}), (e: HerdError) => e.code === 'INVALID_SPEC');
  assert.throws(() => resolveHosts('h:99999', {}), (e: HerdError) => e.code === 'INVALID_SPEC');
});

test('-l/--login: the SSH user for every host but one that names its own (user@host), over the config and ~/.ssh/config', () => {
  const config = { hosts: { web1: { address: '10.0.0.5', user: 'deploy' } } };
  const sshConfig = { files: [parseSshConfig('Host db1\n  User dbadmin\n', 'test', true, () => [])], home: '/home/me', localUser: 'me' };
  const users = resolveHosts('web1,db1,ops@db2', config, { login: 'alice', sshConfig }).map((t) => (t.kind === 'ssh' ? t.user : null));
  assert.equal(users, ['alice', 'alice', 'ops']);
  assert.equal(resolveHosts('web1,db1', config, { sshConfig }).map((t) => (t.kind === 'ssh' ? t.user : null)), ['deploy', 'dbadmin']);
  assert.throws(() => resolveHosts('web1', config, { login: 'a b' }), (e: HerdError) => e.code === 'INVALID_SPEC');
});

test('-H all and @all: every host the config and the inventory name (Ansible\'s pattern), unless a host is called all', () => {
  const config = { hosts: { web1: { address: '10.0.0.5' }, db1: { address: '10.0.0.6' } } };
  const inventory = { hosts: new Map([['app1', { address: '10.0.0.7' }]]), groups: new Map<string, string[]>() };
  assert.equal(resolveHosts('all', config, { inventory }).map((t) => t.name), ['web1', 'db1', 'app1']);
  assert.equal(resolveHosts('all!db1', config).map((t) => t.name), ['web1']);
  assert.equal(resolveHosts('@all&web1', config).map((t) => t.name), ['web1']);
  assert.equal(resolveHosts('all', { hosts: { all: { address: '10.0.0.9' } } }).map((t) => t.name), ['all']);
  assert.equal(resolveHosts('ball', config).map((t) => t.name), ['ball'], 'only the whole word');
});

test.run();
