import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { stringify } from 'yaml';
import { REPO, up, type Testbed } from '../../fixtures/testbed/testbed.ts';
import { endPersistDaemon, gate, herd, localHome, loud } from './harness.ts';

const RUNTIMES: Record<string, string[]> = {
  node: [process.execPath],
  bun: [join(REPO, '.runtimes', 'node_modules', '.bin', 'bun')],
  deno: [join(REPO, '.runtimes', 'node_modules', '.bin', 'deno'), 'run', '--allow-all', '--quiet'],
};

const Runtimes = suite('the CLI under node, bun and deno');
const enabled = gate('runtimes.test.ts', { root: true, commands: ['/usr/sbin/sshd', RUNTIMES.bun![0]!, RUNTIMES.deno![0]!] });
let bed: Testbed;

Runtimes.before(loud(async () => {
  bed = await up(1);
  mkdirSync(join(bed.home, '.config', 'herd'), { recursive: true });
  writeFileSync(join(bed.home, '.config', 'herd', 'config.yml'), stringify({ hosts: { h1: { address: bed.hosts[0]!.address, user: 'root' } } }));
}));
Runtimes.after(() => bed?.down());

for (const [name, runtime] of Object.entries(RUNTIMES)) {
  Runtimes(`${name}: a remote run streams output, stdin and the exit status`, async () => {
    const r = await herd(['run', '-H', 'h1', '--', 'sh', '-c', 'cat; echo err >&2; exit 7'], { home: bed.home, runtime, stdin: `via ${name}\n`, timeoutMs: 60_000 });
    assert.is(r.code, 7, r.stderr);
    assert.is(r.text, `via ${name}\n`);
    assert.match(r.stderr, 'err');
    const version = await herd(['--version'], { home: bed.home, runtime });
    assert.match(version.text, /^\d+\.\d+\.\d+/);
  });
}

for (const [name, runtime] of Object.entries(RUNTIMES)) {
  Runtimes(`${name}: --transport openssh, and --persist (its daemon under ${name} too)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herd-rt-'));
    const options = { home: bed.home, runtime, env: { XDG_RUNTIME_DIR: dir }, timeoutMs: 60_000 };
    const pidFile = join(dir, 'herd', 'persist-v2.pid');
    try {
      const viaSsh = await herd(['run', '--transport', 'openssh', '-H', 'h1', '--', 'echo', `${name} openssh`], options);
      assert.is(viaSsh.code, 0, viaSsh.stderr);
      assert.is(viaSsh.text, `${name} openssh\n`);
      const reused: boolean[] = [];
      for (let i = 0; i < 2; i++) {
        const r = await herd(['run', '--persist', '1m', '-H', 'h1', '--json', '--', 'true'], options);
        assert.is(r.code, 0, r.stderr);
        reused.push(r.json<{ hosts: Array<{ connection: { reused: boolean } }> }>().hosts[0]!.connection.reused);
      }
      assert.equal(reused, [false, true]);
      assert.match(readFileSync(`/proc/${readFileSync(pidFile, 'utf8').trim()}/cmdline`, 'utf8'), name === 'node' ? 'node' : name, `the daemon runs under ${name}`);
    } finally {
      await endPersistDaemon(dir);
    }
  });
}

for (const name of ['bun', 'deno']) {
  Runtimes(`the helper and agent run under ${name} on a host without node`, async () => {
    const box = localHome(`host-${name}`);
    const state = join(box.home, 'state');
    try {
      // A PATH with the tools bootstrap.sh and jobs use, and this runtime, but no node.
      const bin = join(box.home, 'bin');
      mkdirSync(bin);
      for (const tool of ['sh', 'id', 'ls', 'mkdir', 'head', 'sha256sum', 'mv', 'rm', 'df', 'awk', 'cat', 'unshare', 'setpriv', 'echo']) {
        symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), join(bin, tool));
      }
      symlinkSync(RUNTIMES[name]![0]!, join(bin, name));
      const r = await herd(['run', '--', 'sh', '-c', 'cat; echo done'], { home: box.home, env: { PATH: bin, HERD_STATE_DIR: state }, stdin: 'in\n' });
      assert.is(r.code, 0, r.stderr);
      assert.is(r.text, 'in\ndone\n');
      const lock = readdirSync(state).find((f) => f.startsWith('agent-') && f.endsWith('.lock'))!;
      const agent = Number(readFileSync(join(state, lock), 'utf8').trim());
      assert.match(readFileSync(`/proc/${agent}/cmdline`, 'utf8'), name, `the agent runs under ${name}`);
      process.kill(agent, 'SIGTERM');
    } finally {
      box.remove();
    }
  });
}

if (enabled) Runtimes.run();
