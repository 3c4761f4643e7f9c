import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { judgeHostKey, keyType, knownHostsName, knownKeys, knownKeysIn } from '../../../../src/client/hosts/knownHosts.ts';

test('known_hosts: plain, [host]:port, hashed and negated entries', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herd-kh-'));
  const file = join(dir, 'known_hosts');
  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), randomBytes(32)]);
  const other = Buffer.concat([blob.subarray(0, 19), randomBytes(32)]);
  const salt = randomBytes(20);
  const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[10.1.1.1]:2222').digest('base64')}`;
  writeFileSync(
    file,
    [
      `# comment`,
      `web1,10.0.0.1 ssh-ed25519 ${blob.toString('base64')}`,
      `${hashed} ssh-ed25519 ${other.toString('base64')}`,
      `*.example.com,!bad.example.com ssh-ed25519 ${blob.toString('base64')}`,
      `@revoked web1 ssh-ed25519 ${other.toString('base64')}`,
      `[127.0.0.1]:22522 ssh-ed25519 ${blob.toString('base64')}`,
    ].join('\n'),
  );
  assert.is(keyType(blob), 'ssh-ed25519');
  assert.is(knownHostsName('h', 22), 'h');
  assert.is(knownHostsName('h', 2222), '[h]:2222');
  assert.is(judgeHostKey(knownKeys(file, '10.0.0.1', 22), blob), 'known');
  assert.is(judgeHostKey(knownKeys(file, '10.0.0.1', 22), other), 'changed');
  assert.is(judgeHostKey(knownKeys(file, '10.0.0.1', 2222), blob), 'unknown');
  assert.is(judgeHostKey(knownKeys(file, '10.1.1.1', 2222), other), 'known');
  assert.is(judgeHostKey(knownKeys(file, 'a.example.com', 22), blob), 'known');
  assert.is(judgeHostKey(knownKeys(file, 'bad.example.com', 22), blob), 'unknown');
  assert.is(judgeHostKey(knownKeys(file, '127.0.0.1', 22522), blob), 'known', 'a plain [host]:port entry');
  assert.is(judgeHostKey(knownKeys(file, '127.0.0.2', 22522), blob), 'unknown', 'brackets are not a character class');
  // As OpenSSH: on another port the host's plain entries count when no [host]:port entry exists,
  // and a [host]:port entry, when there is one, decides.
  assert.is(judgeHostKey(knownKeysIn([file], '10.0.0.1', 2222), blob), 'known');
  assert.is(judgeHostKey(knownKeysIn([file], '10.0.0.1', 2222), other), 'changed');
  assert.is(judgeHostKey(knownKeysIn([file], '10.1.1.1', 2222), other), 'known');
  assert.is(judgeHostKey(knownKeysIn([file], '10.1.1.1', 2222), blob), 'changed', 'the [host]:port entry decides');
  assert.is(judgeHostKey(knownKeysIn([file], '10.9.9.9', 2222), blob), 'unknown');
  // @revoked comes first, even where the key is also on record; @cert-authority makes an unknown key 'authority'.
  const ca = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 9)]);
  writeFileSync(file, [`web1 ssh-ed25519 ${other.toString('base64')}`, `@revoked web1 ssh-ed25519 ${other.toString('base64')}`, `@cert-authority *.fleet.example ssh-ed25519 ${ca.toString('base64')}`, `@unknown-marker web2 ssh-ed25519 ${blob.toString('base64')}`].join('\n'));
  assert.is(judgeHostKey(knownKeysIn([file], 'web1', 22), other), 'revoked');
  assert.is(judgeHostKey(knownKeysIn([file], 'web1', 2222), other), 'revoked', 'revoked under the plain name counts on any port');
  assert.is(judgeHostKey(knownKeysIn([file], 'db.fleet.example', 22), blob), 'authority');
  assert.equal(knownKeysIn([file], 'db.fleet.example', 22).keys, [], 'a CA line is not a host key');
  assert.is(judgeHostKey(knownKeysIn([file], 'web2', 22), blob), 'unknown', 'a line with an unknown marker is ignored');
  rmSync(dir, { recursive: true, force: true });
});

test.run();
