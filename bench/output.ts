/*
 * Output throughput with host prefixes (npm run bench:output, as root): 2 testbed hosts each send
 * 80 MB, side by side in one run.
 *   herd, prefixed, 80 MB with no newline (the case that was quadratic: lines are held, then split at 64 KiB)
 *   herd, prefixed, 80 MB in 100-byte lines
 *   herd, one host, 160 MB unprefixed (bytes as they come: the reference, like clush -N)
 *   clush -f 64, prefixed, 80 MB in 100-byte lines; clush -N, the same unprefixed
 * Output goes to /dev/null. BENCH_RUNS sets the repetitions (default 3).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, up } from '../fixtures/testbed/testbed.ts';
import { measure, type Timing } from './measure.ts';
import { configureHerd, peerSshOptions } from './testbedClient.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const herdJs = join(REPO, 'dist', 'herd.js');
const MB = 80;

const bed = await up(2);
process.on('SIGINT', () => {
  bed.down();
  process.exit(130);
});

try {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: bed.home };
  delete env.SSH_AUTH_SOCK;
  configureHerd(bed);
  const sshOptions = peerSshOptions(bed);
  const addresses = bed.hosts.map((h) => h.address).join(',');
  const lines = `yes ${'x'.repeat(98)} | head -c ${MB}M`;
  await measure('warm-up', 1, [process.execPath, herdJs, 'run', '-H', 'h1,h2', '--', 'true'], env);

  const rows: Timing[] = [];
  const note = (t: Timing): Timing => {
    rows.push(t);
    console.error(`  ${t.label}: median ${t.medianMs.toFixed(0)} ms`);
    return t;
  };
  const herd = (hosts: string, script: string): string[] => [process.execPath, herdJs, 'run', '--network', 'none', '-H', hosts, '--', 'sh', '-c', script];
  const clush = (flags: string[], script: string): string[] => ['clush', '-f', '64', '-l', 'root', '-o', sshOptions.join(' '), ...flags, '-w', addresses, script];
  console.error(`benchmark: ${RUNS} runs each, 2 hosts x ${MB} MB`);
  const unterminated = note(await measure(`herd, 2 hosts, prefixed, ${MB} MB each with no newline`, RUNS, herd('h1,h2', `head -c ${MB}M /dev/zero`), env));
  const prefixed = note(await measure(`herd, 2 hosts, prefixed, ${MB} MB each in 100-byte lines`, RUNS, herd('h1,h2', lines), env));
  const raw = note(await measure(`herd, 1 host, unprefixed, ${2 * MB} MB in 100-byte lines`, RUNS, herd('h1', `yes ${'x'.repeat(98)} | head -c ${2 * MB}M`), env));
  const clushPrefixed = note(await measure(`clush, 2 hosts, prefixed, ${MB} MB each in 100-byte lines`, RUNS, clush([], lines), env));
  const clushRaw = note(await measure(`clush -N, 2 hosts, unprefixed, ${MB} MB each in 100-byte lines`, RUNS, clush(['-N'], lines), env));

  const rate = (t: Timing): string => `${((2 * MB) / (t.medianMs / 1000)).toFixed(0)} MB/s`;
  const ratio = (a: Timing, b: Timing): string => `${(a.medianMs / b.medianMs).toFixed(2)}×`;
  const report = [
    '| measurement | median | rate |',
    '| --- | ---: | ---: |',
    ...rows.map((r) => `| ${r.label} | ${r.medianMs.toFixed(0)} ms | ${rate(r)} |`),
    '',
    '| ratio (time) | value |',
    '| --- | ---: |',
    `| herd prefixed, no newline / herd unprefixed | ${ratio(unterminated, raw)} |`,
    `| herd prefixed lines / herd unprefixed | ${ratio(prefixed, raw)} |`,
    `| herd prefixed lines / clush prefixed | ${ratio(prefixed, clushPrefixed)} |`,
    `| herd unprefixed / clush -N | ${ratio(raw, clushRaw)} |`,
  ].join('\n');
  console.log(report);
  mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  writeFileSync(join(REPO, 'bench', 'results', `output-${new Date().toISOString().replace(/[:.]/g, '-')}.md`), `${report}\n`);
} finally {
  bed.down();
}
