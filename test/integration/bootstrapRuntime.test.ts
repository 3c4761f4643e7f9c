import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RuntimeOffer } from '../../src/client/runtime/bunRuntime.ts';
import { runBootstrap, type Bootstrapped } from '../../src/client/transport/bootstrapDialogue.ts';
import type { RawChannel } from '../../src/client/transport/channel.ts';
import { REPO } from '../../fixtures/testbed/testbed.ts';
import { gate } from './harness.ts';

const BOOTSTRAP = readFileSync(join(REPO, 'src', 'remote', 'bootstrap.sh'), 'utf8');

/*
 * bootstrap.sh and the client's side of its dialogue, both real, on a PATH without node, bun or
 * deno: the runtime asked for by target, sent gzipped, checked, installed once under concurrent
 * first contacts, reused, replaced when damaged. The "runtime" is a small script standing in for
 * Bun's 100 MB binary (shipRuntime.test.ts ships the real one to testbed hosts).
 */
const Boot = suite('bootstrap ships a runtime to a host that has none');
const enabled = gate('bootstrapRuntime.test.ts', { commands: ['sh', 'gzip', 'sha256sum'] });
const scratch = mkdtempSync(join(tmpdir(), 'herd-bootrt-'));
const bin = join(scratch, 'bin');
const runtimeFile = join(scratch, 'fake-bun');
const gzFile = join(scratch, 'fake-bun.gz');
const TOOLS = ['sh', 'id', 'mkdir', 'rmdir', 'head', 'sha256sum', 'mv', 'rm', 'df', 'awk', 'cat', 'ls', 'uname', 'grep', 'gzip', 'wc', 'tr', 'chmod', 'sleep'];

/** A runtime that, run as `RUNTIME HELPER --state DIR`, says which helper it was given and exits. */
const FAKE = '#!/bin/sh\necho "fake runtime ran $1"\n';
let offer: RuntimeOffer;
const helperBytes = Buffer.from('// a helper\n');
const helper = { sha256: createHash('sha256').update(helperBytes).digest('hex'), size: helperBytes.length, bytes: () => helperBytes };

Boot.before(() => {
  mkdirSync(bin, { recursive: true });
  for (const tool of TOOLS) {
    const found = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((p) => existsSync(p));
    if (found !== undefined) symlinkSync(found, join(bin, tool));
  }
  writeFileSync(runtimeFile, FAKE);
  writeFileSync(gzFile, gzipSync(readFileSync(runtimeFile)));
  offer = { target: 'linux-x64', version: 'test', sha256: createHash('sha256').update(FAKE).digest('hex'), gzPath: gzFile, gzBytes: readFileSync(gzFile).length };
});

Boot.after(() => rmSync(scratch, { recursive: true, force: true }));

/** One bootstrap on `state`, answered by the real client dialogue; what it shipped and what the runtime printed. */
async function contact(state: string, ship = 'auto', source: (target: string) => Promise<RuntimeOffer | string> = async () => offer): Promise<{ boot: Bootstrapped | null; error: string | null; asked: string[]; out: string }> {
  const child = spawn('/bin/sh', ['-c', BOOTSTRAP, 'herd-bootstrap', helper.sha256, String(helper.size), state, ship], { env: { PATH: bin, HOME: scratch }, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const raw: RawChannel = { stdout: child.stdout, stderr: child.stderr, stdin: child.stdin, exited, close: () => child.stdin.end() };
  const asked: string[] = [];
  let boot: Bootstrapped | null = null;
  let error: string | null = null;
  try {
    boot = await runBootstrap(raw, helper, 'test', () => '', undefined, (target) => (asked.push(target), source(target)));
  } catch (err) {
    error = (err as Error).message;
  }
  let out = '';
  child.stdout.resume();
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stdin.end();
  await exited;
  if (boot !== null) out = Buffer.from(boot.leftover).toString() + out;
  return { boot, error, asked, out };
}

const installed = (state: string): string[] => (existsSync(join(state, 'runtimes')) ? readdirSync(join(state, 'runtimes')).sort() : []);

Boot('no runtime on the PATH: the target is asked for, the runtime sent, checked and run; the next contact sends nothing', async () => {
  const state = join(scratch, 'state-1');
  const first = await contact(state);
  assert.is(first.error, null);
  assert.equal(first.asked, ['linux-x64'], 'this machine\'s target (x86_64, glibc, AVX2)');
  assert.is(first.boot?.shippedRuntime, 'linux-x64');
  assert.match(first.out, `fake runtime ran ${join(state, `helper-${helper.sha256}.mjs`)}`);
  assert.equal(installed(state), [`bun-${offer.sha256}`, `bun-${offer.sha256}.size`]);
  const second = await contact(state);
  assert.is(second.boot?.shippedRuntime, null, 'cached');
  assert.match(second.out, 'fake runtime ran');

  truncateSync(join(state, 'runtimes', `bun-${offer.sha256}`), 5);
  const repaired = await contact(state);
  assert.is(repaired.boot?.shippedRuntime, 'linux-x64', 'a damaged runtime is sent again');
  assert.is(readFileSync(join(state, 'runtimes', `bun-${offer.sha256}`), 'utf8'), FAKE);
});

Boot('a runtime that arrives corrupted is refused and not installed; one the client cannot find says why; never refuses', async () => {
  const state = join(scratch, 'state-2');
  const bad = { ...offer, sha256: 'f'.repeat(64) };
  const corrupted = await contact(state, 'auto', async () => bad);
  assert.match(corrupted.error ?? '', /the runtime arrived corrupted/);
  assert.equal(installed(state), [], 'nothing installed, no temporary file left');
  const none = await contact(state, 'auto', async () => 'Bun has no build for linux-riscv64');
  assert.match(none.error ?? '', /herd has none to send: Bun has no build for linux-riscv64/);
  const never = await contact(state, 'never');
  assert.match(never.error ?? '', /--ship-runtime never/);
  assert.equal(never.asked, [], 'never asked');
});

Boot('eight first contacts at once install the runtime once; all of them run it', async () => {
  const state = join(scratch, 'state-3');
  const contacts = await Promise.all(Array.from({ length: 8 }, () => contact(state)));
  for (const c of contacts) assert.is(c.error, null);
  assert.is(contacts.filter((c) => c.boot?.shippedRuntime !== null).length, 1, 'sent once');
  for (const c of contacts) assert.match(c.out, 'fake runtime ran');
  assert.equal(installed(state), [`bun-${offer.sha256}`, `bun-${offer.sha256}.size`], 'no lock or temporary file left');
});

Boot('--ship-runtime always ships Bun even where node is on the PATH', async () => {
  const state = join(scratch, 'state-4');
  const withNode = join(scratch, 'bin-node');
  mkdirSync(withNode, { recursive: true });
  writeFileSync(join(withNode, 'node'), '#!/bin/sh\necho "node ran"\n');
  chmodSync(join(withNode, 'node'), 0o755);
  const child = async (ship: string): Promise<string> => {
    const r = spawn('/bin/sh', ['-c', `PATH=${withNode}:$PATH; export PATH; exec /bin/sh -c "$0" herd-bootstrap "$@"`, BOOTSTRAP, helper.sha256, String(helper.size), state, ship], { env: { PATH: bin, HOME: scratch } });
    const raw: RawChannel = { stdout: r.stdout, stderr: r.stderr, stdin: r.stdin, exited: new Promise((res) => r.once('close', res)), close: () => r.stdin.end() };
    const boot = await runBootstrap(raw, helper, 'test', () => '', undefined, async () => offer);
    let out = Buffer.from(boot.leftover).toString();
    r.stdout.on('data', (c: Buffer) => (out += c.toString()));
    r.stdin.end();
    await raw.exited;
    return out;
  };
  assert.match(await child('auto'), 'node ran');
  assert.match(await child('always'), 'fake runtime ran');
});

Boot('an arm64 host asks for the aarch64 build (uname -m as an arm64 kernel says it)', async () => {
  const armBin = join(scratch, 'bin-arm');
  mkdirSync(armBin, { recursive: true });
  for (const tool of readdirSync(bin)) if (tool !== 'uname') symlinkSync(join(bin, tool), join(armBin, tool));
  writeFileSync(join(armBin, 'uname'), '#!/bin/sh\necho aarch64\n', { mode: 0o755 });
  const state = join(scratch, 'state-arm');
  const child = spawn('/bin/sh', ['-c', BOOTSTRAP, 'herd-bootstrap', helper.sha256, String(helper.size), state, 'auto'], { env: { PATH: armBin, HOME: scratch } });
  const raw: RawChannel = { stdout: child.stdout, stderr: child.stderr, stdin: child.stdin, exited: new Promise((res) => child.once('close', res)), close: () => child.stdin.end() };
  const asked: string[] = [];
  await runBootstrap(raw, helper, 'test', () => '', undefined, async (target) => (asked.push(target), 'not in this test')).catch(() => undefined);
  child.stdin.end();
  await raw.exited;
  assert.equal(asked, ['linux-aarch64']);
});

if (enabled) Boot.run();
