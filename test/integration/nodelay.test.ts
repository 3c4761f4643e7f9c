import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { stringify } from 'yaml';
import { up, type Testbed, type TestHost } from '../../fixtures/testbed/testbed.ts';
import { endPersistDaemon, gate, herd, loud, sleep, type HerdOptions } from './harness.ts';

/*
 * sshd turns Nagle off on a connection only when a session starts a command; a connection that only
 * reaches the agent's socket keeps it on, and bulk output then stalls on delayed ACKs (a third of the
 * throughput, see docs/benchmarks.md). herd runs `true` in a session once a connection carries bulk
 * output, and only then: short runs on a warm host start no process there. sshd's VERBOSE log names
 * every session it starts ("Starting session: command ..."), so the test counts them.
 */
const Nodelay = suite('bulk output over the agent\'s socket');
const enabled = gate('nodelay.test.ts', { root: true, commands: ['ip', 'ssh-keygen', '/usr/sbin/sshd'] });
let bed: Testbed;
let options: HerdOptions;
const host = (): TestHost => bed.hosts[0]!;
const MIB = 1024 * 1024;

Nodelay.before(loud(async () => {
  bed = await up(1, { sshdOptions: () => ['LogLevel=VERBOSE'] });
  mkdirSync(join(bed.home, '.config', 'herd'), { recursive: true });
  writeFileSync(join(bed.home, '.config', 'herd', 'config.yml'), stringify({ hosts: { h1: { address: host().address, user: 'root' } } }));
  options = { home: bed.home, timeoutMs: 60_000 };
}));

Nodelay.after(() => bed?.down());

/** The commands sshd has started in sessions, in order. */
const sessionsStarted = (): string[] => bed.sshdLog(host()).split('\n').filter((line) => line.includes('Starting session: command'));

/** Waits (up to 3 s) for sshd to have started `count` sessions in all; the client does not wait for its `true`. */
async function sessionsReach(count: number): Promise<number> {
  for (let i = 0; i < 30 && sessionsStarted().length < count; i++) await sleep(100);
  return sessionsStarted().length;
}

type RunDoc = { hosts: Array<{ stdout: string; connection: { direct: boolean } }> };

Nodelay('a short run on a warm host starts no process there; bulk output starts one `true`, once per connection', async () => {
  const cold = await herd(['run', '-H', 'h1', '--', 'true'], options);
  assert.is(cold.code, 0, cold.stderr);
  const afterCold = sessionsStarted().length;
  assert.ok(afterCold >= 1, 'the first run started the helper in a session');

  const short = await herd(['run', '-H', 'h1', '--json', '--', 'echo', 'hi'], options);
  assert.is(short.code, 0, short.stderr);
  assert.equal(short.json<RunDoc>().hosts.map((h) => [h.stdout, h.connection.direct]), [['hi\n', true]]);
  await sleep(300);
  assert.is(sessionsStarted().length, afterCold, 'a short run over the agent\'s socket started no session');

  // 8 MiB of 'a' in two bursts: every byte arrives, and one `true` session serves the connection.
  const bulk = await herd(['run', '-H', 'h1', '--', 'sh', '-c', `head -c ${4 * MIB} /dev/zero | tr '\\0' a; sleep 0.2; head -c ${4 * MIB} /dev/zero | tr '\\0' a`], options);
  assert.is(bulk.code, 0, bulk.stderr);
  assert.is(bulk.stdout.length, 8 * MIB);
  assert.ok(bulk.stdout.every((b) => b === 0x61), 'the bytes are the job\'s');
  assert.is(await sessionsReach(afterCold + 1), afterCold + 1, 'one session for the bulk run');
  await sleep(300);
  assert.is(sessionsStarted().length, afterCold + 1, 'and only one');
  assert.match(sessionsStarted().at(-1)!, /Starting session: command for root/);
});

Nodelay('through the --persist daemon: the daemon\'s connection gets its `true` once, for later runs too', async () => {
  const runtime = mkdtempSync(join(tmpdir(), 'herd-rt-'));
  const persisted: HerdOptions = { ...options, env: { XDG_RUNTIME_DIR: runtime } };
  try {
    const warm = await herd(['run', '--persist', '1m', '-H', 'h1', '--', 'true'], persisted);
    assert.is(warm.code, 0, warm.stderr);
    const before = sessionsStarted().length;
    for (let i = 0; i < 2; i++) {
      const bulk = await herd(['run', '--persist', '1m', '-H', 'h1', '--', 'head', '-c', String(2 * MIB), '/dev/zero'], persisted);
      assert.is(bulk.code, 0, bulk.stderr);
      assert.is(bulk.stdout.length, 2 * MIB);
    }
    assert.is(await sessionsReach(before + 1), before + 1, 'the daemon\'s connection got its session');
    await sleep(300);
    assert.is(sessionsStarted().length, before + 1, 'one for both runs: the daemon asks once per connection');
  } finally {
    await endPersistDaemon(runtime);
  }
});

if (enabled) Nodelay.run();
