import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { opensshArgs, opensshDestination, opensshFailure, passwdHomeOf } from '../../../../src/client/transport/opensshArgs.ts';
import type { SshOptions, SshTarget } from '../../../../src/client/transport/sshConnection.ts';

/*
 * OpenSSH is the oracle again: `ssh -G` with the arguments herd builds must resolve the host the
 * way herd does (user, port, address, keys, known_hosts, no prompts), from herd's HOME.
 */
const home = mkdtempSync(join(tmpdir(), 'herd-openssh-'));
mkdirSync(join(home, '.ssh'));
writeFileSync(join(home, '.ssh', 'config'), 'Host web\n  HostName 10.1.2.3\n  ServerAliveInterval 7\n');
writeFileSync(join(home, '.ssh', 'id_ed25519'), '');
writeFileSync(join(home, 'a'), '');
writeFileSync(join(home, 'b'), '');

const options: SshOptions = { transport: 'openssh', acceptNew: false, connectTimeoutMs: 4500 };
const target: SshTarget = { kind: 'ssh', name: 'web', alias: 'web', address: '10.1.2.3', port: 2222, user: 'deploy' };

function resolved(args: string[], destination: string): Map<string, string[]> {
  const out = execFileSync('ssh', ['-G', ...args, destination], { encoding: 'utf8' });
  const map = new Map<string, string[]>();
  for (const line of out.split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const key = line.slice(0, space);
    map.set(key, [...(map.get(key) ?? []), line.slice(space + 1)]);
  }
  return map;
}

test('ssh -G with herd\'s arguments: its HOME\'s config, keys and known_hosts; the user, port; no prompts', () => {
  const args = opensshArgs(target, options, { home, passwdHome: '/nonexistent-passwd-home' });
  const g = resolved(args, opensshDestination(target));
  assert.equal(g.get('hostname'), ['10.1.2.3']);
  assert.equal(g.get('user'), ['deploy']);
  assert.equal(g.get('port'), ['2222']);
  assert.equal(g.get('batchmode'), ['yes']);
  assert.equal(g.get('connecttimeout'), ['5']);
  assert.equal(g.get('serveraliveinterval'), ['7'], 'the HOME\'s ~/.ssh/config is read');
  assert.equal(g.get('identityfile'), [join(home, '.ssh', 'id_ed25519')]);
  assert.equal(g.get('userknownhostsfile'), [join(home, '.ssh', 'known_hosts')]);
  const accepting = resolved(opensshArgs(target, { ...options, acceptNew: true }, { home, passwdHome: home }), 'web');
  assert.equal(accepting.get('stricthostkeychecking'), ['accept-new']);
});

test('when HOME is the passwd home, ssh finds its own files: herd names only what it configured', () => {
  const args = opensshArgs({ ...target, ssh: { identityFiles: [join(home, 'a'), join(home, 'b'), join(home, 'missing')], identitiesOnly: true, proxyJump: [], connectTimeoutMs: null, serverAliveIntervalMs: 0, strictHostKeyChecking: 'ask', userKnownHostsFiles: ['/kh/one', '/kh/two words'] } }, options, { home, passwdHome: home });
  assert.not.ok(args.includes('-F'));
  const g = resolved(args, 'web');
  assert.equal(g.get('identityfile'), [join(home, 'a'), join(home, 'b')], 'missing files left out');
  // -G prints the list space-joined, unquoted; the quotes kept "two words" one path on the way in.
  assert.equal(g.get('userknownhostsfile'), ['/kh/one /kh/two words']);
});

test('ssh\'s complaints become herd\'s error codes', () => {
  const cases: Array<[string, string]> = [
    ['@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@\nThe fingerprint for the ED25519 key sent by the remote host is\nSHA256:abc.\nHost key verification failed.\n', 'HOST_KEY_MISMATCH'],
    ['No ED25519 host key is known for 10.0.0.1 and you have requested strict checking.\nHost key verification failed.\n', 'HOST_KEY_UNKNOWN'],
    ['root@10.0.0.1: Permission denied (publickey).\n', 'SSH_AUTH'],
    ['ssh: connect to host 10.0.0.1 port 2: Connection refused\n', 'HOST_UNREACHABLE'],
    ['ssh: Could not resolve hostname nowhere: Name or service not known\n', 'HOST_UNREACHABLE'],
  ];
  for (const [stderr, code] of cases) assert.is(opensshFailure(stderr, target).code, code, stderr);
  assert.match(opensshFailure('ssh: connect to host 10.0.0.1 port 2: Connection refused\n', target).message, 'Connection refused');
});

test('the passwd home, as ssh finds it (getpwuid), whatever $HOME says', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/sh\n# junk\n';
  assert.is(passwdHomeOf(passwd, 0), '/root');
  assert.is(passwdHomeOf(passwd, 1000), '/home/alice');
  assert.is(passwdHomeOf(passwd, 4242), null);
});

test.after(() => rmSync(home, { recursive: true, force: true }));

test.run();
