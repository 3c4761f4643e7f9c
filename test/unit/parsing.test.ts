import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseDuration } from '../../src/client/units/durations.ts';
import { resolveHosts } from '../../src/client/hosts/targets.ts';
import { judgeHostKey, keyType, knownHostsName, knownKeys, knownKeysIn } from '../../src/client/hosts/knownHosts.ts';
import { PrefixedLines } from '../../src/client/output/lineWriter.ts';
import { exitStatus, overallStatus, type HostOutcome } from '../../src/client/output/outcome.ts';
import { HerdError } from '../../src/protocol/errors.ts';

test('durations', () => {
  assert.is(parseDuration('10s', 'f'), 10_000);
  assert.is(parseDuration('1h30m', 'f'), 5_400_000);
  assert.is(parseDuration('90d', 'f'), 90 * 86_400_000);
  assert.is(parseDuration('2', 'f'), 2000);
  assert.throws(() => parseDuration('10 parsecs', '--ttl'), (e: HerdError) => e.code === 'INVALID_SPEC' && e.message.includes('--ttl'));
});

test('hosts: local by default, names from the config, user@host:port', () => {
  assert.equal(resolveHosts(undefined, {}), [{ kind: 'local', name: 'local' }]);
  const config = { hosts: { web1: { address: '10.0.0.5', port: 2222, user: 'deploy' } } };
  const [web1, adhoc] = resolveHosts('web1,ops@db1:2200', config);
  assert.equal(web1, { kind: 'ssh', name: 'web1', address: '10.0.0.5', port: 2222, user: 'deploy' });
  assert.equal(adhoc, { kind: 'ssh', name: 'ops@db1:2200', address: 'db1', port: 2200, user: 'ops', alias: 'db1' });
  assert.throws(() => resolveHosts('a b', {}), (e: HerdError) => e.code === 'INVALID_SPEC');
  assert.throws(() => resolveHosts('h:99999', {}), (e: HerdError) => e.code === 'INVALID_SPEC');
});

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

test('prefixed lines hold partial lines until complete or ended', () => {
  const lines = new PrefixedLines('h1: ');
  const out = [lines.push(Buffer.from('a\nb')), lines.push(Buffer.from('c')), lines.push(Buffer.from('\nd')), lines.end(), lines.end()];
  assert.equal(out.map(String), ['h1: a\n', '', 'h1: bc\n', 'h1: d\n', '']);
});

test('exit status: the job status, 128+n for signals, 127 not found, 255 for herd errors, largest over hosts', () => {
  const base = { host: 'h', jobId: 'j', shippedHelper: false, error: null };
  const result = (exitCode: number | null, signal: string | null): HostOutcome => ({
    ...base,
    result: { jobId: 'j', exitCode, signal, oomKilled: false, timedOut: false, stopped: false, startedAt: '', endedAt: '', durationMs: 0 },
  });
  assert.is(exitStatus(result(3, null)), 3);
  assert.is(exitStatus(result(null, 'KILL')), 137);
  assert.is(exitStatus(result(null, 'TERM')), 143);
  assert.is(exitStatus({ ...base, result: null, error: new HerdError('COMMAND_NOT_FOUND', 'x') }), 127);
  assert.is(exitStatus({ ...base, result: null, error: new HerdError('SSH_AUTH', 'x') }), 255);
  assert.is(overallStatus([result(0, null), result(2, null), result(1, null)]), 2);
});

test.run();
