import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { up, type Testbed } from '../../fixtures/testbed/testbed.ts';
import { configureHerd } from '../../bench/testbedClient.ts';
import { gate, herd, loud, stopAgentsAndWait, testLogin, type HerdRun } from './harness.ts';

/*
 * Hosts of the shapes servers come in (issue 17), each reached fresh: the first `herd run` works and
 * the second ships nothing.
 *   h1: busybox is /bin/sh (bootstrap, supervisor, launcher and each job's init all run in it)
 *   h2: no node, and the SSH login's home and /tmp are noexec: Bun must go where it can run
 * (A non-root login and sudo are remote.test.ts's; arm64 is bootstrapRuntime.test.ts's.)
 */
const Shapes = suite('hosts of every common shape');
const enabled = gate('hostShapes.test.ts', { root: true, commands: ['sshd', 'ip', 'nsenter', 'gzip', '/bin/busybox', 'useradd'] });
const SHARED_CACHE = '/var/cache/herd-test/client-cache';
let bed: Testbed;
let login: ReturnType<typeof testLogin>;

Shapes.before(loud(async () => {
  login = testLogin(null);
  bed = await up(2, {
    busyboxSh: (n) => n === 1,
    hide: (n) => (n === 2 ? ['/usr/bin/node'] : []),
    noexec: (n) => (n === 2 ? ['/tmp', login.home] : []),
    // Where Bun may go instead: private to this host, so nothing is left on the machine.
    tmpfs: (n) => (n === 2 ? [{ path: '/var/tmp', mode: '1777' }] : []),
  });
  configureHerd(bed);
  const ours = join(bed.home, '.cache', 'herd');
  mkdirSync(ours, { recursive: true });
  mkdirSync(join(SHARED_CACHE, 'herd', 'runtimes'), { recursive: true, mode: 0o700 });
  symlinkSync(join(SHARED_CACHE, 'herd', 'runtimes'), join(ours, 'runtimes'));
}));

Shapes.after(async () => {
  bed?.down();
  await login?.remove();
});

const registryEnv = Object.fromEntries(['NODE_EXTRA_CA_CERTS', 'HTTPS_PROXY', 'https_proxy', 'HERD_NPM_REGISTRY'].filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!]));

type RunDoc = { hosts: Array<{ stdout: string; stderr: string; shippedHelper: boolean; connection: { shippedRuntime?: string } }> };

const on = (host: string, args: string[], extra: string[] = []): Promise<HerdRun> =>
  herd(['run', ...extra, '-H', host, '--accept-new', '--handshake-timeout', '120s', '--json', ...args], { home: bed.home, env: registryEnv, timeoutMs: 300_000 });

Shapes('busybox as /bin/sh: the first run works, sandboxed, in busybox; the second ships nothing', async () => {
  // /proc/PID/exe names the path it was run by (dash's, busybox bound over it): compare the bytes.
  const first = await on('h1', ['--', 'sh', '-c', 'cmp -s /bin/sh /bin/busybox && echo busybox; echo "pid $$"']);
  assert.is(first.code, 0, first.stderr + first.text);
  const doc = first.json<RunDoc>().hosts[0]!;
  assert.is(doc.shippedHelper, true);
  assert.match(doc.stdout, /^busybox\npid \d\n$/, `the job's shell is busybox, in a PID namespace of its own (a small pid): ${doc.stderr}`);
  // The agent stopped, so the next run goes through the bootstrap again.
  await stopAgentsAndWait(`/proc/${bed.hosts[0]!.sshdPid}/root/var/lib/herd`);
  const second = await on('h1', ['--', 'true']);
  assert.is(second.code, 0, second.stderr);
  assert.is(second.json<RunDoc>().hosts[0]!.shippedHelper, false, 'the cached helper');
});

Shapes('a noexec home and /tmp: Bun goes where this login may run it (/var/tmp), is found there again, and jobs run', async () => {
  const as = ['-l', login.name];
  const first = await on('h2', ['--', 'sh', '-c', 'id -u; echo ran'], as);
  assert.is(first.code, 0, first.stderr + first.text);
  const doc = first.json<RunDoc>().hosts[0]!;
  assert.is(doc.stdout, '0\nran\n', `a rootless job (root in its own user namespace): ${doc.stderr}`);
  assert.match(doc.connection.shippedRuntime ?? '', /^linux-x64/);
  const root = `/proc/${bed.hosts[1]!.sshdPid}/root`;
  const placed = readdirSync(`${root}/var/tmp/herd-${login.uid}`);
  assert.ok(placed.some((f) => /^bun-[0-9a-f]{64}$/.test(f)), `Bun in /var/tmp/herd-${login.uid}: ${placed.join(' ')}`);
  assert.not.ok(placed.some((f) => f.startsWith('.')), `no probe, lock or temporary file left: ${placed.join(' ')}`);
  const inHome = readdirSync(`${root}${login.home}/.cache/herd`);
  assert.ok(inHome.some((f) => /^helper-[0-9a-f]{64}\.mjs$/.test(f)), `the helper stays in the state directory (read, not run): ${inHome.join(' ')}`);
  await stopAgentsAndWait(`${root}${login.home}/.cache/herd`);
  const second = await on('h2', ['--', 'echo', 'again'], as);
  assert.is(second.code, 0, second.stderr);
  const again = second.json<RunDoc>().hosts[0]!;
  assert.is(again.stdout, 'again\n');
  assert.is(again.connection.shippedRuntime, undefined, 'nothing shipped the second time');
});

if (enabled) Shapes.run();
