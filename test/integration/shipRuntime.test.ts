import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { up, type Testbed } from '../../fixtures/testbed/testbed.ts';
import { configureHerd } from '../../bench/testbedClient.ts';
import { gate, herd, loud, stopAgentsAndWait, type HerdRun } from './harness.ts';

/*
 * Hosts without a JavaScript runtime (issue 17): node hidden in each testbed host's own mount
 * namespace, nothing else on its PATH. herd ships Bun there: once, verified, cached beside the
 * helper; the next contact ships nothing; eight first contacts at once install it once; a damaged
 * cached runtime is replaced; --ship-runtime never says what to do. The client's runtime cache is
 * kept under /var/cache between CI runs, so Bun comes from the npm registry once.
 */
const Ship = suite('hosts without a JavaScript runtime get Bun');
const enabled = gate('shipRuntime.test.ts', { root: true, commands: ['sshd', 'ip', 'nsenter', 'gzip'] });
const SHARED_CACHE = '/var/cache/herd-test/client-cache';
let bed: Testbed;

Ship.before(loud(async () => {
  bed = await up(2, { hide: () => ['/usr/bin/node'] });
  configureHerd(bed);
  const ours = join(bed.home, '.cache', 'herd');
  mkdirSync(ours, { recursive: true });
  mkdirSync(join(SHARED_CACHE, 'herd', 'runtimes'), { recursive: true, mode: 0o700 });
  symlinkSync(join(SHARED_CACHE, 'herd', 'runtimes'), join(ours, 'runtimes'));
}));

Ship.after(() => bed?.down());

/** The machine's way to the npm registry (a CA of its own, a proxy), for the first fetch of Bun. */
const registryEnv = Object.fromEntries(['NODE_EXTRA_CA_CERTS', 'HTTPS_PROXY', 'https_proxy', 'HERD_NPM_REGISTRY'].filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!]));

const on = (host: string, args: string[]): Promise<HerdRun> => herd(['run', '-H', host, '--accept-new', '--handshake-timeout', '120s', ...args], { home: bed.home, env: registryEnv, timeoutMs: 300_000 });

/** The files of a host's runtime cache: its private /var/lib/herd, seen through its sshd's mount namespace. */
function runtimeFiles(host: number): string[] {
  const dir = `/proc/${bed.hosts[host - 1]!.sshdPid}/root/var/lib/herd/runtimes`;
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

Ship('a host without node, bun or deno gets Bun on first contact, verified and cached; the second contact ships nothing', async () => {
  assert.equal(runtimeFiles(1), [], 'nothing there before');
  const never = await on('h1', ['--ship-runtime', 'never', '--', 'true']);
  assert.is(never.code, 255, never.stderr);
  assert.match(never.stderr, /no JavaScript runtime on this host .*--ship-runtime never: install one, or let herd ship Bun.*\[HELPER_START\]/);
  const first = await on('h1', ['--json', '--', 'sh', '-c', 'echo "$HOSTNAME" ran']);
  assert.is(first.code, 0, first.stderr + first.text);
  const doc = first.json<{ hosts: Array<{ stdout: string; connection: { shippedRuntime?: string } }> }>().hosts[0]!;
  assert.match(doc.stdout, / ran\n$/);
  assert.match(doc.connection.shippedRuntime ?? '', /^linux-x64/, 'the runtime for this host\'s target was shipped');
  const files = runtimeFiles(1);
  assert.is(files.filter((f) => /^bun-[0-9a-f]{64}$/.test(f)).length, 1, files.join(' '));
  assert.not.ok(files.some((f) => f.startsWith('.')), `no temporary or lock file left: ${files.join(' ')}`);
  const bun = `/proc/${bed.hosts[0]!.sshdPid}/root/var/lib/herd/runtimes/${files.find((f) => f.startsWith('bun-'))!}`;
  assert.ok(statSync(bun).size > 50e6, 'the whole binary');
  const second = await on('h1', ['--json', '--', 'true']);
  assert.is(second.code, 0, second.stderr);
  assert.is(second.json<{ hosts: Array<{ connection: { shippedRuntime?: string }; shippedHelper: boolean }> }>().hosts[0]!.connection.shippedRuntime, undefined, 'nothing shipped the second time');
  assert.equal(runtimeFiles(1), files);

  // Damaged in the cache, with its agent stopped (a running agent is reached without the bootstrap):
  // found on the next contact, replaced, and the job still runs.
  await stopAgentsAndWait(`/proc/${bed.hosts[0]!.sshdPid}/root/var/lib/herd`);
  writeFileSync(`${bun}.cut`, readFileSync(bun).subarray(0, 1000), { mode: 0o700 });
  renameSync(`${bun}.cut`, bun);
  const repaired = await on('h1', ['--json', '--', 'echo', 'again']);
  assert.is(repaired.code, 0, repaired.stderr);
  assert.match(repaired.json<{ hosts: Array<{ connection: { shippedRuntime?: string } }> }>().hosts[0]!.connection.shippedRuntime ?? '', /^linux-x64/, 'shipped again');
  assert.ok(statSync(bun).size > 50e6, 'the whole binary again');
});

Ship('eight first contacts at once install the runtime once, and all of them run', async () => {
  const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => on('h2', ['--json', '--', 'echo', `run-${i}`])));
  for (const [i, r] of runs.entries()) assert.is(r.code, 0, `run ${i}: ${r.stderr}`);
  const shipped = runs.filter((r) => r.json<{ hosts: Array<{ connection: { shippedRuntime?: string } }> }>().hosts[0]!.connection.shippedRuntime !== undefined);
  assert.is(shipped.length, 1, 'one contact sent the runtime, the others waited for it');
  const files = runtimeFiles(2);
  assert.is(files.filter((f) => f.startsWith('bun-') && !f.endsWith('.size')).length, 1, files.join(' '));
  assert.not.ok(files.some((f) => f.startsWith('.')), `no temporary or lock file left: ${files.join(' ')}`);
});

if (enabled) Ship.run();
