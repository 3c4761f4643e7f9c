/*
 * herd as one file (npm run bench:single; issue 17): builds the single-file clients (npm run dist)
 * and prints their sizes, then start-up side by side in one run:
 *   --version of the linux-x64 single file (bytecode), of the same without bytecode, of
 *   dist/herd.js under node and under bun
 *   a local job (`herd run -- true`, isolated; as root) by the single file and by node
 * BENCH_RUNS repetitions each (default 20). Target: the single file's --version ≤ 50 ms.
 */
import { join } from 'node:path';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { REPO } from '../fixtures/testbed/testbed.ts';
import { buildSingle, DIST_TARGETS } from '../scripts/dist.ts';
import { measure, type Timing } from './measure.ts';
import { stopAgentsAndWait } from '../test/integration/harness.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const herdJs = join(REPO, 'dist', 'herd.js');
const bun = join(REPO, '.runtimes', 'node_modules', '.bin', 'bun');

const sizes: string[] = [];
for (const target of DIST_TARGETS) {
  try {
    const built = await buildSingle(target);
    sizes.push(`| herd-${target} | ${(built.bytes / 1e6).toFixed(1)} MB |`);
  } catch (err) {
    sizes.push(`| herd-${target} | not built: ${(err as Error).message.split('\n')[0]} |`);
  }
}
const single = join(REPO, 'dist', 'single', 'herd-linux-x64');
const source = (await buildSingle('linux-x64', { bytecode: false })).path;

const home = mkdtempSync(join(tmpdir(), 'herd-bench-single-'));
const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, HERD_STATE_DIR: join(home, 'state') };
const rows: Timing[] = [];
const note = async (label: string, argv: string[]): Promise<Timing> => {
  const t = await measure(label, RUNS, argv, env);
  rows.push(t);
  console.error(`  ${label}: median ${t.medianMs.toFixed(1)} ms`);
  return t;
};
try {
  const byBytecode = await note('single file --version (bytecode)', [single, '--version']);
  const bySource = await note('single file --version (no bytecode)', [source, '--version']);
  const byNode = await note('node dist/herd.js --version', [process.execPath, herdJs, '--version']);
  const byBun = existsSync(bun) ? await note('bun dist/herd.js --version', [bun, herdJs, '--version']) : null;
  let jobs = '';
  if (process.getuid?.() === 0) {
    await measure('warm-up', 1, [single, 'run', '--', 'true'], env);
    const jobSingle = await note('single file run -- true (local, isolated)', [single, 'run', '--', 'true']);
    const jobNode = await note('node dist/herd.js run -- true (local, isolated)', [process.execPath, herdJs, 'run', '--', 'true']);
    jobs = `| local job: single file / node | ${(jobSingle.medianMs / jobNode.medianMs).toFixed(2)}× | |`;
  }
  const ratio = (a: Timing, b: Timing): string => `${(a.medianMs / b.medianMs).toFixed(2)}×`;
  const report = [
    '| single file | size |',
    '| --- | ---: |',
    ...sizes,
    '',
    '| measurement | median | min | max |',
    '| --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.label} | ${r.medianMs.toFixed(1)} ms | ${r.minMs.toFixed(1)} ms | ${r.maxMs.toFixed(1)} ms |`),
    '',
    '| ratio | value | target |',
    '| --- | ---: | ---: |',
    `| --version: single file / node | ${ratio(byBytecode, byNode)} | |`,
    `| --version: single file / without bytecode | ${ratio(byBytecode, bySource)} | |`,
    ...(byBun === null ? [] : [`| --version: single file / bun dist/herd.js | ${ratio(byBytecode, byBun)} | |`]),
    `| single file --version | ${byBytecode.medianMs.toFixed(1)} ms | ≤ 50 ms |`,
    ...(jobs === '' ? [] : [jobs]),
  ].join('\n');
  console.log(report);
} finally {
  // The local agents the runs started (their pids are in their locks), waited for: they remove their spare cgroups.
  await stopAgentsAndWait(join(home, 'state'));
  rmSync(source, { force: true });
  rmSync(home, { recursive: true, force: true });
}
