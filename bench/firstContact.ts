/*
 * First contact (npm run bench:first-contact, as root; issue 17): `true` on BENCH_HOSTS (default 50)
 * fresh testbed hosts, each tool once per fresh testbed, side by side in one run:
 *   herd, first contact: the helper shipped, each host's agent started
 *   herd, first contact on hosts without node: Bun shipped too (from the client's cache)
 *   herd, warm: the same hosts again
 *   clush -f 64 on the same hosts
 * BENCH_RUNS fresh testbeds per figure (default 3). Targets: cold ≤ 1.0× clush, runtime-less cold ≤ 2.0×.
 * Beside each wall time: the CPU its hosts spent (per host) and the bytes sent to each host.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, up, type Testbed } from '../fixtures/testbed/testbed.ts';
import { bytesToHosts, hostCpuMs } from './hostCost.ts';
import { measure } from './measure.ts';
import { configureHerd, peerSshOptions } from './testbedClient.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const HOSTS = Number(process.env.BENCH_HOSTS ?? 50);
const herdJs = join(REPO, 'dist', 'herd.js');
// The client's runtime cache, filled once (herd runtime fetch linux-x64).
const cache = process.env.XDG_CACHE_HOME ?? '/var/cache/herd-test/client-cache';

interface Sample {
  label: string;
  ms: number[];
  /** Per host: CPU time spent on the host, and bytes sent to it. */
  hostCpuMs: number[];
  bytes: number[];
}

/** Runs argv once on `bed`, recording its wall time and, per host, the hosts' CPU and the bytes sent. */
async function sample(into: Sample, bed: Testbed, argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const cpu = hostCpuMs(bed);
  const bytes = bytesToHosts(bed);
  into.ms.push((await measure(into.label, 1, argv, env)).medianMs);
  // Agents and sessions finish their bookkeeping a moment after the client is done.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  into.hostCpuMs.push((hostCpuMs(bed) - cpu) / bed.hosts.length);
  into.bytes.push((bytesToHosts(bed) - bytes) / bed.hosts.length);
}

async function fresh<T>(hide: boolean, use: (bed: Testbed) => Promise<T>): Promise<T> {
  const bed = await up(HOSTS, hide ? { hide: () => ['/usr/bin/node'] } : {});
  try {
    configureHerd(bed);
    return await use(bed);
  } finally {
    bed.down();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const kib = (bytes: number): string => (bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`);

const samples: Sample[] = [
  'herd run, first contact (helper shipped, agents started)',
  'herd run, warm (the same hosts again)',
  'herd run, first contact without node (Bun shipped)',
  'clush -f 64, the same hosts',
].map((label) => ({ label, ms: [], hostCpuMs: [], bytes: [] }));
const all = `h[1-${HOSTS}]`;
for (let i = 0; i < RUNS; i++) {
  await fresh(false, async (bed) => {
    const env = { ...process.env, HOME: bed.home, XDG_CACHE_HOME: join(bed.home, '.cache') };
    await sample(samples[0]!, bed, [process.execPath, herdJs, 'run', '--accept-new', '-H', all, '--', 'true'], env);
    await sample(samples[1]!, bed, [process.execPath, herdJs, 'run', '-H', all, '--', 'true'], env);
    const addresses = bed.hosts.map((h) => h.address);
    await sample(samples[3]!, bed, ['clush', '-f', '64', '-l', 'root', '-o', peerSshOptions(bed).join(' '), '-w', addresses.join(','), 'true'], env);
  });
  await fresh(true, async (bed) => {
    // The shared runtime cache, and a client cache of this testbed's own for the rest.
    mkdirSync(join(bed.home, '.cache', 'herd'), { recursive: true });
    symlinkSync(join(cache, 'herd', 'runtimes'), join(bed.home, '.cache', 'herd', 'runtimes'));
    const env = { ...process.env, HOME: bed.home, XDG_CACHE_HOME: join(bed.home, '.cache') };
    await sample(samples[2]!, bed, [process.execPath, herdJs, 'run', '--accept-new', '--handshake-timeout', '300s', '-H', all, '--', 'true'], env);
  });
  console.error(`  testbeds ${i + 1} of ${RUNS} done`);
}

const clush = median(samples[3]!.ms);
const lines = [
  `${HOSTS} fresh hosts, \`true\` on each, ${RUNS} fresh testbeds, ${new Date().toISOString().slice(0, 10)}`,
  '',
  '| measurement | median | / clush | host CPU per host | sent per host |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...samples.map((s) => `| ${s.label} | ${median(s.ms).toFixed(0)} ms | ${(median(s.ms) / clush).toFixed(2)}× | ${median(s.hostCpuMs).toFixed(0)} ms | ${kib(median(s.bytes))} |`),
];
const report = lines.join('\n');
console.log(report);
mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
writeFileSync(join(REPO, 'bench', 'results', `first-contact-${new Date().toISOString().replace(/[:.]/g, '-')}.md`), `${report}\n`);
