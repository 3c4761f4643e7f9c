import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { stringify } from 'yaml';
import { REPO, up, type Testbed } from '../../fixtures/testbed/testbed.ts';
import { gate, herd } from './harness.ts';

const RUNTIMES: Record<string, string[]> = {
  node: [process.execPath],
  bun: [join(REPO, '.runtimes', 'node_modules', '.bin', 'bun')],
  deno: [join(REPO, '.runtimes', 'node_modules', '.bin', 'deno'), 'run', '--allow-all', '--quiet'],
};

const Runtimes = suite('the CLI under node, bun and deno');
const enabled = gate('runtimes.test.ts', { root: true, commands: ['/usr/sbin/sshd', RUNTIMES.bun![0]!, RUNTIMES.deno![0]!] });
let bed: Testbed;

Runtimes.before(async () => {
  bed = await up(1);
  mkdirSync(join(bed.home, '.config', 'herd'), { recursive: true });
  writeFileSync(join(bed.home, '.config', 'herd', 'config.yml'), stringify({ hosts: { h1: { address: bed.hosts[0]!.address, user: 'root' } } }));
});
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

if (enabled) Runtimes.run();
