/*
 * Job start overhead on one host (issue 3), side by side in one run (npm run bench:isolation, as root):
 *   bare spawn of `true`, unshare with the same namespaces, bwrap --unshare-all, and herd with full
 *   isolation and limits — from the agent's own timing (the result's durationMs and phases) and as
 *   the wall time of `herd run -- true` (client start-up included). BENCH_RUNS sets repetitions (default 30).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../fixtures/testbed/testbed.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const herdJs = join(REPO, 'dist', 'herd.js');

function wall(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code === 0) resolve({ ms, stdout: out });
      else reject(new Error(`${argv.join(' ')}: exit ${code}: ${err}`));
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function series(label: string, once: () => Promise<number>): Promise<{ label: string; median: number }> {
  await once(); // warm caches
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) samples.push(await once());
  const m = median(samples);
  console.error(`  ${label}: median ${m.toFixed(1)} ms`);
  return { label, median: m };
}

const home = mkdtempSync(join(tmpdir(), 'herd-bench-iso-'));
const state = join(home, 'state');
// herd refuses a state directory others may enter (STATE_UNSAFE).
mkdirSync(state, { mode: 0o700 });
const env = { ...process.env, HOME: home, HERD_STATE_DIR: state };
// --network none: a network namespace with loopback only (bridge networks are measured by the network benchmark).
const limits = ['--network', 'none', '--max-memory', '256M', '--max-cpu', '100', '--max-pids', '1000'];
try {
  writeFileSync(join(home, 'true.sh'), '');
  console.error(`isolation benchmark: ${RUNS} runs each`);
  const rows = [
    await series('bare spawn: true', async () => (await wall(['true'])).ms),
    await series('unshare --pid --mount --uts --ipc --fork true', async () => (await wall(['unshare', '--pid', '--mount', '--uts', '--ipc', '--fork', 'true'])).ms),
    await series('unshare --user --map-root-user --pid --mount --uts --ipc --net --fork true', async () =>
      (await wall(['unshare', '--user', '--map-root-user', '--pid', '--mount', '--uts', '--ipc', '--net', '--fork', 'true'])).ms),
    await series('bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc true', async () =>
      (await wall(['bwrap', '--unshare-all', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', 'true'])).ms),
  ];
  const agentSide = async (flags: string[]): Promise<{ total: number; phases: Record<string, number> }> => {
    const { stdout } = await wall([process.execPath, herdJs, 'run', '--json', ...flags, '--', 'true'], env);
    const result = (JSON.parse(stdout) as { hosts: Array<{ result: { durationMs: number; phases: Record<string, number> } }> }).hosts[0]!.result;
    return { total: result.durationMs, phases: result.phases };
  };
  const phaseSamples: Record<string, number[]> = {};
  const herdSeries = async (label: string, flags: string[]) =>
    series(label, async () => {
      const { total, phases } = await agentSide(flags);
      for (const [k, v] of Object.entries(phases)) (phaseSamples[`${label} ${k}`] ??= []).push(v);
      return total;
    });
  rows.push(await herdSeries('herd job, isolation only (agent timing)', ['--network', 'none']));
  rows.push(await herdSeries('herd job, isolation + limits (agent timing)', limits));
  rows.push(await series('herd run -- true, local, wall time (node client)', async () => (await wall([process.execPath, herdJs, 'run', ...limits, '--', 'true'], env)).ms));

  const bare = rows[0]!.median;
  const lines = [
    '| measurement | median | over bare spawn |',
    '| --- | ---: | ---: |',
    ...rows.map((r) => `| ${r.label} | ${r.median.toFixed(1)} ms | +${(r.median - bare).toFixed(1)} ms |`),
    '',
    '| herd phase (agent timing, median) | ms |',
    '| --- | ---: |',
    ...Object.entries(phaseSamples).map(([k, v]) => `| ${k} | ${median(v).toFixed(1)} |`),
  ];
  console.log(lines.join('\n'));
  mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  writeFileSync(join(REPO, 'bench', 'results', `isolation-${new Date().toISOString().replace(/[:.]/g, '-')}.md`), `${lines.join('\n')}\n`);
} finally {
  for (const f of readdirSync(state).filter((n) => /^agent-.*\.lock$/.test(n))) {
    try {
      process.kill(Number(readFileSync(join(state, f), 'utf8')), 'SIGTERM');
    } catch {
      // gone
    }
  }
  rmSync(home, { recursive: true, force: true });
}
