import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO, up, type Testbed } from '../../fixtures/testbed/testbed.ts';
import { configureHerd } from '../../bench/testbedClient.ts';
import { buildSingle } from '../../scripts/dist.ts';
import { gate, localHome, loud, stopAgents } from './harness.ts';

/*
 * herd as one file (npm run dist): Bun's single-file executable holding the CLI and the helper.
 * The linux-x64 build runs here: --version, a local isolated job, and a run on a testbed host, all
 * without node. The cross-compiled builds are checked for their machine and C library.
 */
const Dist = suite('herd as one file');
const enabled = gate('dist.test.ts', { root: true, commands: ['sshd', 'ip', 'nsenter', 'unshare'] });
// Bun for each platform comes from the npm registry once, then from this cache: set for this
// file's tests only (uvu runs every file in one process).
const SHARED_CACHE = '/var/cache/herd-test/client-cache';
const cacheBefore = process.env.XDG_CACHE_HOME;
const box = localHome('dist');
let bed: Testbed | undefined;
let single = '';

Dist.before(loud(async () => {
  process.env.XDG_CACHE_HOME = SHARED_CACHE;
  process.env.HERD_DIST_BUN_CACHE = '/var/cache/herd-test/dist-bun';
  single = (await buildSingle('linux-x64')).path;
}));

Dist.after(() => {
  delete process.env.HERD_DIST_BUN_CACHE;
  if (cacheBefore === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = cacheBefore;
  stopAgents(join(box.home, 'state'));
  box.remove();
  bed?.down();
});

/** Runs the single file itself (no node runs the client; hosts may still have theirs). */
function run(args: string[], home: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(single, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

Dist('the linux-x64 file is the client, no node needed: --version, a local isolated job, a testbed host', async () => {
  const version = await run(['--version'], box.home);
  assert.is(version.stdout.trim(), JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version);
  const local = await run(['run', '--', '/bin/sh', '-c', 'echo "in $(cat /etc/hostname)"'], box.home, { HERD_STATE_DIR: join(box.home, 'state') });
  assert.is(local.code, 0, local.stderr);
  assert.match(local.stdout, /^in [0-9a-f]{12}\n$/, 'a sandboxed job, named by its id');
  bed = await up(1);
  configureHerd(bed);
  const remote = await run(['run', '-H', 'h1', '--accept-new', '--', 'echo', 'over ssh'], bed.home);
  assert.is(remote.code, 0, remote.stderr);
  assert.is(remote.stdout, 'over ssh\n');
});

Dist('the cross-compiled files are for their machine and C library (macOS: Mach-O for its CPU)', async () => {
  for (const [target, machine, musl] of [['linux-aarch64', 0xb7, false], ['linux-x64-musl', 0x3e, true], ['linux-aarch64-musl', 0xb7, true]] as const) {
    const { path } = await buildSingle(target);
    const head = readFileSync(path).subarray(0, 8192);
    assert.equal([...head.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], `${target}: an ELF file`);
    assert.is(head.readUInt16LE(18), machine, `${target}: e_machine`);
    assert.is(head.includes('ld-musl'), musl, `${target}: its interpreter`);
    assert.ok(execFileSync('sh', ['-c', `test -x ${path} && echo ok`], { encoding: 'utf8' }).includes('ok'));
  }
  // Mach-O 64 (magic 0xfeedfacf) and its cputype: CPU_TYPE_X86_64, CPU_TYPE_ARM64.
  for (const [target, cpu] of [['darwin-x64', 0x01000007], ['darwin-aarch64', 0x0100000c]] as const) {
    const { path } = await buildSingle(target);
    const head = readFileSync(path).subarray(0, 8);
    assert.is(head.readUInt32LE(0), 0xfeedfacf, `${target}: a Mach-O 64-bit file`);
    assert.is(head.readUInt32LE(4), cpu, `${target}: its cputype`);
  }
});

if (enabled) Dist.run();
