/*
 * Network setup cost (issue 4), side by side in one run on a testbed host (npm run bench:network, as root):
 * job start with --network none vs bridge vs a named network, from the agent's per-phase timings.
 * Target: network setup adds at most 20 ms at the median. BENCH_RUNS sets repetitions (default 25).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, up } from '../fixtures/testbed/testbed.ts';
import { configureHerd } from './testbedClient.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 25);
const herdJs = join(REPO, 'dist', 'herd.js');

function herdJson(args: string[], env: NodeJS.ProcessEnv): Promise<{ durationMs: number; phases: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [herdJs, 'run', '--json', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`herd ${args.join(' ')}: exit ${code}: ${err}`));
      const result = (JSON.parse(out) as { hosts: Array<{ result: { durationMs: number; phases: Record<string, number> } }> }).hosts[0]!.result;
      resolve({ durationMs: result.durationMs, phases: result.phases });
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const bed = await up(1);
try {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: bed.home };
  configureHerd(bed, [bed.hosts[0]!]);
  const create = spawn(process.execPath, [herdJs, 'network', 'create', 'bench', '--cidr', '10.77.0.0/24', '-H', 'h1'], { env, stdio: 'inherit' });
  await new Promise((resolve) => create.once('close', resolve));
  const modes = [['none'], ['bridge'], ['bench']];
  const rows: string[] = [];
  let noneTotal = 0;
  console.error(`network benchmark: ${RUNS} jobs each on one testbed host`);
  for (const [mode] of modes) {
    await herdJson(['-H', 'h1', '--network', mode!, '--', 'true'], env); // warm: bridge and rules exist
    const totals: number[] = [];
    const phases: Record<string, number[]> = {};
    for (let i = 0; i < RUNS; i++) {
      const r = await herdJson(['-H', 'h1', '--network', mode!, '--', 'true'], env);
      totals.push(r.durationMs);
      for (const [k, v] of Object.entries(r.phases)) (phases[k] ??= []).push(v);
    }
    const total = median(totals);
    if (mode === 'none') noneTotal = total;
    const p = (k: string): string => (phases[k] === undefined ? '-' : `${median(phases[k]).toFixed(1)}`);
    rows.push(`| --network ${mode} | ${total.toFixed(1)} ms | +${(total - noneTotal).toFixed(1)} ms | ${p('setupMs')} | ${p('networkMs')} | ${p('attachMs')} | ${p('runMs')} |`);
    console.error(`  ${mode}: median job ${total.toFixed(1)} ms`);
  }
  const report = [
    '| mode | job start to exit (median) | over none | setup | network (parallel to setup) | wait after setup | run |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
  console.log(report);
  mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  writeFileSync(join(REPO, 'bench', 'results', `network-${new Date().toISOString().replace(/[:.]/g, '-')}.md`), `${report}\n`);
} finally {
  bed.down();
}
