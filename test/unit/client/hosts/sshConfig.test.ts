import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expandPath, readSshConfig, resolveSsh } from '../../../../src/client/hosts/sshConfig.ts';
import { parseSshConfig } from '../../../../src/client/hosts/sshConfigParse.ts';
import { sshG } from '../../helpers/sshOracle.ts';

/*
 * OpenSSH is the oracle: for each config of the corpus and each host, herd's resolved settings
 * must equal what `ssh -G -F CONFIG HOST` prints.
 */
const CORPUS = join(import.meta.dirname ?? '.', '..', '..', '..', '..', 'fixtures', 'ssh-config');
const home = mkdtempSync(join(tmpdir(), 'herd-sshcfg-'));
const localUser = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
const passwdHome = userInfo().homedir;
const env = { ...process.env, HOME: home };

// The Include case is written here, so that its absolute path is this checkout's.
const includeConf = join(home, 'include.conf');
writeFileSync(includeConf, `# Include with a glob, inlined where it stands\nInclude ${join(CORPUS, 'included')}/*.conf\n\nHost *\n  User fallback\n  StrictHostKeyChecking yes\n`);

const CASES: Array<{ file: string; hosts: string[] }> = [
  { file: join(CORPUS, 'basic.conf'), hosts: ['web1', 'web3', 'webby.prod', 'db1.prod', 'other'] },
  { file: join(CORPUS, 'match.conf'), hosts: ['db1', 'special', 'plain'] },
  { file: includeConf, hosts: ['alpha', 'beta', 'gamma', 'delta'] },
];

const DEFAULT_KEYS = ['~/.ssh/id_rsa', '~/.ssh/id_ecdsa', '~/.ssh/id_ecdsa_sk', '~/.ssh/id_ed25519', '~/.ssh/id_ed25519_sk', '~/.ssh/id_xmss', '~/.ssh/id_dsa'];

for (const { file, hosts } of CASES) {
  for (const host of hosts) {
    test(`ssh config ${file.split('/').at(-1)}: ${host} resolves as ssh -G says`, () => {
      // OpenSSH expands ~ from the passwd entry, not $HOME; herd follows $HOME (tests rely on it),
      // so the comparison gives herd the passwd home.
      const files = readSshConfig({ files: [{ path: file, base: join(passwdHome, '.ssh') }], home: passwdHome, localUser });
      const ours = resolveSsh(host, files, { home: passwdHome, localUser });
      const theirs = sshG(file, host, env);
      // ssh -G lists OpenSSH's default keys when none are configured; herd keeps [] for "the defaults".
      assert.equal({ ...ours, identityFiles: ours.identityFiles.length === 0 ? DEFAULT_KEYS : ours.identityFiles }, theirs);
    });
  }
}

test('tokens in IdentityFile paths expand like OpenSSH', () => {
  const s = { hostname: 'db1.internal', port: 5432, user: 'admin', original: 'db1' };
  assert.is(expandPath('~/.ssh/id_%h_%r', s, { home: '/home/me', localUser: 'me' }), '/home/me/.ssh/id_db1.internal_admin');
  assert.is(expandPath('/keys/%u-%p-%n-%%', s, { home: '/home/me', localUser: 'me' }), '/keys/me-5432-db1-%');
  assert.is(expandPath('%d/k', s, { home: '/home/me', localUser: 'me' }), '/home/me/k');
});

test('a config that cannot be read is no config; a bad port is a CONFIG error', () => {
  assert.equal(readSshConfig({ files: [{ path: join(home, 'missing'), base: home }], home, localUser }), []);
  assert.throws(() => resolveSsh('x', [parseSshConfig('Host x\n  Port 99999\n', 'test', true, () => [])], { home, localUser }), /not a port/);
  assert.ok(readFileSync(includeConf, 'utf8').includes('Include'));
});

test.after(() => rmSync(home, { recursive: true, force: true }));

test.run();
