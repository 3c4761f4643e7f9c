import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gate, herd, HERD, tempHome } from './harness.ts';

/*
 * Selecting hosts as an Ansible or clush user would, from the real CLI: patterns over the
 * config's and an inventory's names, herd hosts with no -H and --groups, --dry-run, and shell
 * completion in real bash, zsh and fish. Nothing here contacts a host.
 */
const Selection = suite('selecting hosts: patterns, listings, dry runs, completion');
const enabled = gate('selection.test.ts', { commands: ['bash', 'zsh', 'fish'] });
const box = tempHome('selection');
const opts = { home: box.home, env: { HERD_STATE_DIR: join(box.home, 'state') } };
const inventory = join(box.home, 'inv.ini');

Selection.before(() => {
  mkdirSync(join(box.home, '.config', 'herd'), { recursive: true });
  writeFileSync(
    join(box.home, '.config', 'herd', 'config.yml'),
    'hosts:\n  web1: { address: 10.0.0.1, user: deploy }\n  web2: { address: 10.0.0.2 }\n  db1: { address: 10.0.0.3, port: 2222 }\ngroups:\n  webs: web[1-2]\n',
  );
  writeFileSync(inventory, '[eu]\nweb1\napp[1:2] ansible_user=ops\n[us:children]\neu\n');
  mkdirSync(join(box.home, '.ssh'), { recursive: true });
  writeFileSync(join(box.home, '.ssh', 'config'), 'Host bastion\n  HostName 10.0.0.9\nHost *.internal\n  User x\n');
});

Selection.after(() => box.remove());

Selection('-H patterns match the names of hosts and groups, as Ansible\'s; with & they narrow, and one that matches nothing says so', async () => {
  const names = async (args: string[]): Promise<string[]> => {
    const r = await herd(['hosts', '--json', ...args], opts);
    assert.is(r.code, 0, r.stderr);
    return r.json<{ hosts: Array<{ name: string }> }>().hosts.map((h) => h.name);
  };
  assert.equal(await names(['-H', 'web*']), ['web1', 'web2']);
  assert.equal(await names(['-H', 'web*,db?']), ['web1', 'web2', 'db1']);
  assert.equal(await names(['-H', '@w*']), ['web1', 'web2'], 'groups only');
  assert.equal(await names(['-i', inventory, '-H', 'app*&@eu']), ['app1', 'app2']);
  assert.equal(await names(['-i', inventory, '-H', 'e*']), ['web1', 'app1', 'app2'], 'a group name matches too');
  assert.equal(await names(['-H', '*', '-x', 'web*']), ['db1']);
  const none = await herd(['hosts', '-H', 'zz*'], opts);
  assert.is(none.code, 2);
  assert.match(none.stderr, /"zz\*" matches no host or group.*\[INVALID_SPEC\]/);
});

Selection('herd hosts with no -H lists every known host; --groups lists groups with their hosts, folded', async () => {
  const all = await herd(['hosts', '-i', inventory], opts);
  assert.is(all.code, 0, all.stderr);
  assert.match(all.text, /^NAME +ADDRESS +PORT +USER\n/);
  for (const line of [/web1 +10\.0\.0\.1 +22 +deploy/, /db1 +10\.0\.0\.3 +2222/, /app2 +app2 +22 +ops/]) assert.match(all.text, line);
  assert.match(all.stderr, /5 hosts/);
  const groups = await herd(['hosts', '--groups', '-i', inventory], opts);
  assert.match(groups.text, /^GROUP +FROM +HOSTS +COUNT\n/);
  assert.match(groups.text, /webs +config +web\[1-2\] +2/);
  assert.match(groups.text, /us +inventory +app\[1-2\],web1 +3/);
  const json = (await herd(['hosts', '--groups', '--json', '-i', inventory], opts)).json<{ groups: Array<{ name: string; source: string; hosts: string[] }> }>();
  assert.equal(json.groups.find((g) => g.name === 'eu'), { name: 'eu', source: 'inventory', hosts: ['web1', 'app1', 'app2'] });
});

Selection('run --dry-run shows the job and the hosts, contacts none and writes nothing', async () => {
  const r = await herd(['run', '-H', 'web*', '--max-memory', '1G', '-e', 'TOKEN=secret', '--timeout', '30s', '--dry-run', '--', 'systemctl', 'status'], opts);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.text, /nothing was started\. On 2 hosts/);
  assert.match(r.text, /systemctl status/);
  assert.match(r.text, /limits --max-memory 1G; timeout 30s/, 'limits and times as they were typed');
  assert.match(r.text, /env TOKEN/);
  assert.not.match(r.text, /secret/, 'environment values are never shown');
  assert.match(r.text, /web2 +10\.0\.0\.2 +22 +root +ssh2/);
  const json = (await herd(['run', '--check', '--json', '-H', 'db1', '--isolation', 'none', '--', 'true'], opts)).json<{ dryRun: boolean; job: { isolation: string }; hosts: Array<{ port: number }> }>();
  assert.equal([json.dryRun, json.job.isolation, json.hosts[0]?.port], [true, 'none', 2222]);
  const config = execFileSync('cat', [join(box.home, '.config', 'herd', 'config.yml')], { encoding: 'utf8' });
  assert.not.match(config, /identity/, 'no identity was made: nothing ran');
});

/** What a shell completes for the words (the last one being completed), through the script herd prints. */
function completions(shell: 'bash' | 'zsh' | 'fish', words: string[]): string[] {
  const bin = join(box.home, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'herd'), `#!/bin/sh\nexec node ${HERD} "$@"\n`, { mode: 0o755 });
  const script = join(box.home, `herd.${shell}`);
  writeFileSync(script, execFileSync('node', [HERD, 'completion', shell], { encoding: 'utf8' }));
  // Its own cache (the job ids completed), whatever XDG_CACHE_HOME the test runs under.
  const env = { ...process.env, HOME: box.home, XDG_CACHE_HOME: join(box.home, '.cache'), HERD_STATE_DIR: join(box.home, 'state'), PATH: `${bin}:${process.env.PATH}` };
  const quoted = words.map((w) => `'${w}'`).join(' ');
  let out: string;
  if (shell === 'bash') {
    out = execFileSync('bash', ['-c', `source ${script}; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _herd_complete; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8', env });
  } else if (shell === 'zsh') {
    // compadd and compdef are completion builtins: stand-ins print what would be offered.
    out = execFileSync('zsh', ['-c', `compdef() { :; }; compadd() { [ "$1" = "--" ] && shift; print -l -- "$@"; }; _files() { :; }; source ${script}; words=(${quoted}); CURRENT=${words.length}; _herd`], { encoding: 'utf8', env });
  } else {
    out = execFileSync('fish', ['-c', `source ${script}; complete -C ${JSON.stringify(words.join(' '))}`], { encoding: 'utf8', env });
  }
  return out.split('\n').map((l) => l.split('\t')[0]!).filter(Boolean);
}

Selection('herd completion bash|zsh|fish completes commands, flags, choices, hosts and groups (config, inventory, ~/.ssh/config) and job ids', async () => {
  mkdirSync(join(box.home, '.cache', 'herd'), { recursive: true });
  writeFileSync(join(box.home, '.cache', 'herd', 'jobs.json'), JSON.stringify([['0123456789ab', 'web1'], ['fedcba987654', 'web2']]));
  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    assert.equal(completions(shell, ['herd', 'ru']).sort(), ['run', 'runtime'], `${shell}: a command`);
    assert.equal(completions(shell, ['herd', 'job', 's']).sort(), ['status', 'stop'], `${shell}: a subcommand`);
    assert.equal(completions(shell, ['herd', 'run', '--max-m']), ['--max-memory'], `${shell}: a flag`);
    assert.equal(completions(shell, ['herd', 'run', '--isolation', 'n']), ['none'], `${shell}: a choice`);
    assert.equal(completions(shell, ['herd', 'run', '-H', 'w']).sort(), ['web1', 'web2'], `${shell}: hosts of the config`);
    assert.ok(completions(shell, ['herd', 'run', '-H', 'b']).includes('bastion'), `${shell}: a host of ~/.ssh/config`);
    assert.equal(completions(shell, ['herd', 'run', '-H', 'web1,@w']), ['web1,@webs'], `${shell}: a group, after a comma`);
    assert.ok(completions(shell, ['herd', 'run', '-i', inventory, '-H', '@e']).includes('@eu'), `${shell}: a group of the inventory`);
    assert.equal(completions(shell, ['herd', 'job', 'logs', 'f']), ['fedcba987654'], `${shell}: a job id`);
  }
  const bad = await herd(['completion', 'tcsh'], opts);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /"tcsh" is not one of bash, zsh, fish/);
});

if (enabled) Selection.run();
