/*
 * A hostile host against the client (issue 13): an sshd whose ForceCommand speaks for a
 * compromised fleet member (fixtures/hostile/host.ts). Whatever it does, herd ends in bounded time
 * and memory with a code that says what happened, and can always be interrupted.
 */
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { REPO, up, type Testbed } from '../../fixtures/testbed/testbed.ts';
import { gate, herd, loud, sleep, stopAgents, watchPeak, type HerdRun } from './harness.ts';

const Hostile = suite('a hostile host cannot hurt the client');
const enabled = gate('hostile.test.ts', { root: true, commands: ['sshd', 'ip', 'nsenter', 'unshare'] });
const scratch = mkdtempSync(join(tmpdir(), 'herd-hostile-'));
const modeFile = join(scratch, 'mode');
let bed: Testbed;
let target = '';

/** The client's resident memory may grow this much over a run whatever the host sends. */
const RSS_BOUND_MB = 200;

Hostile.before(loud(async () => {
  chmodSync(scratch, 0o755);
  writeFileSync(modeFile, 'silent\n', { mode: 0o644 });
  bed = await up(1, { sshdOptions: () => [`ForceCommand cd ${REPO} && exec node --import tsx fixtures/hostile/host.ts ${modeFile}`] });
  target = `root@${bed.hosts[0]!.address}`;
}));

Hostile.after(() => {
  bed?.down();
  rmSync(scratch, { recursive: true, force: true });
});

interface Against {
  run: HerdRun;
  ms: number;
  peakMb: number;
}

async function against(mode: string, flags: string[] = ['--handshake-timeout', '3s'], onStart?: (child: ChildProcess) => void): Promise<Against> {
  writeFileSync(modeFile, `${mode}\n`);
  let peak: { peakMb(): number } | undefined;
  const started = Date.now();
  const run = await herd(['run', '-H', target, ...flags, '--', 'true'], {
    home: bed.home,
    timeoutMs: 40_000,
    onStart: (child) => {
      peak = watchPeak(child);
      onStart?.(child);
    },
  });
  return { run, ms: Date.now() - started, peakMb: peak?.peakMb() ?? 0 };
}

for (const mode of ['silent', 'noise', 'stderr-flood', 'ping-flood']) {
  Hostile(`${mode}: ends as HOST_UNRESPONSIVE at the handshake deadline, in bounded memory`, async () => {
    const { run, ms, peakMb } = await against(mode);
    assert.is.not(run.code, 0);
    assert.match(run.stderr, /HOST_UNRESPONSIVE/, run.stderr);
    assert.match(run.stderr, /3 s/, 'names the deadline');
    assert.ok(ms < 12_000, `took ${ms} ms with a 3 s deadline`);
    assert.ok(peakMb < RSS_BOUND_MB, `client peak RSS ${peakMb} MB`);
  });
}

Hostile('send-loop: a host asking for the helper again and again is refused at the second ask', async () => {
  const { run, ms, peakMb } = await against('send-loop');
  assert.is.not(run.code, 0);
  assert.match(run.stderr, /PROTOCOL/, run.stderr);
  assert.match(run.stderr, /twice/);
  assert.ok(ms < 12_000, `took ${ms} ms`);
  assert.ok(peakMb < RSS_BOUND_MB, `client peak RSS ${peakMb} MB`);
});

for (const mode of ['error-line', 'error-frame']) {
  Hostile(`${mode}: a host's error reaches the terminal escaped, and cannot claim a code only herd can know`, async () => {
    const { run, ms } = await against(mode);
    assert.is(run.code, 255);
    assert.not.match(run.stderr, /\u001b/, 'no raw escape character');
    assert.match(run.stderr, /\\e\[2J/, 'shown escaped');
    assert.not.match(run.stderr, /\[(HOST_KEY_MISMATCH|SSH_AUTH)\]/, 'not tagged as herd\'s own verdict');
    assert.match(run.stderr, /the peer reported "(HOST_KEY_MISMATCH|SSH_AUTH)"/);
    assert.ok(ms < 12_000, `took ${ms} ms`);
  });
}

Hostile('--output-dir never writes through a planted symlink, and replaces what was there', async () => {
  // A local run: the client side is the same whichever host answers.
  const dir = join(scratch, 'out');
  const victim = join(scratch, 'victim');
  writeFileSync(victim, 'precious\n', { mode: 0o644 });
  mkdirSync(dir, { mode: 0o777 });
  chmodSync(dir, 0o777);
  symlinkSync(victim, join(dir, 'local.stdout'));
  writeFileSync(join(dir, 'local.stderr'), 'old\n');
  const home = join(scratch, 'local-home');
  mkdirSync(join(home, '.config', 'herd'), { recursive: true });
  writeFileSync(join(home, '.config', 'herd', 'config.yml'), 'defaults:\n  network: none\n');
  const r = await herd(['run', '--output-dir', dir, '--', 'echo', 'fresh'], { home, env: { HERD_STATE_DIR: join(home, 'state') } });
  stopAgents(join(home, 'state'));
  assert.is(r.code, 0, r.stderr);
  assert.is(readFileSync(victim, 'utf8'), 'precious\n', 'the link\'s target is untouched');
  assert.ok(!lstatSync(join(dir, 'local.stdout')).isSymbolicLink());
  assert.is(readFileSync(join(dir, 'local.stdout'), 'utf8'), 'fresh\n');
  assert.is(readFileSync(join(dir, 'local.stderr'), 'utf8'), '', 'replaced, not appended to');
});

Hostile('SIGTERM before any job has started exits at once, and says so', async () => {
  const { run, ms } = await against('silent', [], (child) => void sleep(1500).then(() => child.kill('SIGTERM')));
  assert.is(run.code, 143, run.stderr);
  assert.match(run.stderr, /interrupted before any job started/);
  assert.ok(ms < 5000, `took ${ms} ms (the default handshake deadline is 30 s)`);
});

Hostile('a second Ctrl-C exits at once', async () => {
  const { run, ms } = await against('silent', [], (child) => {
    void sleep(1500).then(() => child.kill('SIGINT')).then(() => sleep(300)).then(() => child.kill('SIGINT'));
  });
  assert.ok(run.code === 130, `exit ${run.code}: ${run.stderr}`);
  assert.ok(ms < 5000, `took ${ms} ms`);
});

if (enabled) Hostile.run();
