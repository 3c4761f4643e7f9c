import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { up, type Testbed } from '../../fixtures/testbed/testbed.ts';
import { configureHerd } from '../../bench/testbedClient.ts';
import { gate, herd, loud } from './harness.ts';

/*
 * --upload over a fan-out (issue 18): ten testbed hosts, a small file and one past the size kept
 * in memory; the client's own reads are counted by strace (every openat of the files), so "read
 * once" is seen from outside herd. A second run sends no content to any host.
 */
const Fleet = suite('uploads to a fleet: each file read once, sent once');
const enabled = gate('uploadsFleet.test.ts', { root: true, commands: ['sshd', 'ip', 'nsenter', 'strace'] });
let bed: Testbed;
let dir = '';

Fleet.before(loud(async () => {
  bed = await up(10);
  configureHerd(bed);
  dir = join(bed.home, 'up');
  mkdirSync(dir);
  execFileSync('sh', ['-c', `head -c 3M /dev/urandom > ${dir}/small.bin && head -c 40M /dev/urandom > ${dir}/large.bin`]);
  const warm = await herd(['run', '--accept-new', '-H', 'h[1-10]', '--', 'true'], { home: bed.home, timeoutMs: 120_000 });
  assert.is(warm.code, 0, warm.stderr);
}));

Fleet.after(() => bed?.down());

interface Doc {
  hosts: Array<{ host: string; stdout: string; error: unknown; upload: { files: number; bytes: number; sentBytes: number } | null }>;
}

/** herd run under strace: the run's JSON and how many times each upload file was opened. */
async function tracedRun(): Promise<{ doc: Doc; opens: Record<string, number> }> {
  const trace = join(bed.home, `trace-${Date.now()}`);
  const r = await herd(['run', '--json', '-H', 'h[1-10]', '--upload', `${dir}/small.bin:small.bin`, '--upload', `${dir}/large.bin:large.bin`, '--', 'sha256sum', 'small.bin', 'large.bin'], {
    home: bed.home,
    timeoutMs: 180_000,
    runtime: ['strace', '-f', '-qq', '-e', 'trace=openat', '-o', trace, process.execPath],
  });
  assert.is(r.code, 0, r.stderr);
  const lines = readFileSync(trace, 'utf8').split('\n');
  const opens = Object.fromEntries(['small.bin', 'large.bin'].map((name) => [name, lines.filter((l) => l.includes(`${dir}/${name}"`) && !l.includes('O_DIRECTORY')).length]));
  return { doc: r.json<Doc>(), opens };
}

Fleet('ten hosts: each file read once, every host gets both whole; the second run sends nothing', async () => {
  const expected = execFileSync('sha256sum', ['small.bin', 'large.bin'], { cwd: dir, encoding: 'utf8' });
  const first = await tracedRun();
  assert.equal(first.doc.hosts.map((h) => h.stdout), first.doc.hosts.map(() => expected), JSON.stringify(first.doc.hosts.map((h) => h.error)));
  const size = 43 * 1024 * 1024;
  assert.equal(first.doc.hosts.map((h) => h.upload), first.doc.hosts.map(() => ({ files: 2, bytes: size, sentBytes: size })));
  assert.equal(first.opens, { 'small.bin': 1, 'large.bin': 1 }, 'each file opened once for all ten hosts');
  const second = await tracedRun();
  assert.equal(second.doc.hosts.map((h) => h.stdout), second.doc.hosts.map(() => expected));
  assert.equal(second.doc.hosts.map((h) => h.upload?.sentBytes), second.doc.hosts.map(() => 0), 'no content the second time');
  assert.equal(second.opens, { 'small.bin': 0, 'large.bin': 0 }, 'nor read: the hashes came from the cache');
  writeFileSync(join(dir, 'note'), 'done');
});

if (enabled) Fleet.run();
