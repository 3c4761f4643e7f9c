/*
 * Output throughput and reconnect latency on a testbed host (npm run bench:jobs, as root).
 *   herd run -H host -- head -c SIZE /dev/zero   vs   ssh host head -c SIZE /dev/zero   (stdout to /dev/null)
 *   with the client's and the agent's peak RSS during herd's runs
 *   herd job status ID (warm)   vs   ssh host true
 * BENCH_RUNS sets the repetitions (default 5), BENCH_BYTES the output size (default 1 GiB).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, up } from '../fixtures/testbed/testbed.ts';
import { measure, type Timing } from './measure.ts';
import { configureHerd, peerSshOptions } from './testbedClient.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BYTES = Number(process.env.BENCH_BYTES ?? 1024 ** 3);
const herdJs = join(REPO, 'dist', 'herd.js');
const bun = join(REPO, '.runtimes', 'node_modules', '.bin', 'bun');

function peakKb(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Runs a command to its end with stdout to /dev/null, sampling its peak RSS (VmHWM only grows) until it exits. */
function peakRssOf(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'inherit'] });
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, peakKb(child.pid!))), 20);
    child.once('exit', (code) => {
      clearInterval(timer);
      if (code === 0) resolve(peak);
      else reject(new Error(`${argv.join(' ')} exited ${code}`));
    });
  });
}

const bed = await up(1);
process.on('SIGINT', () => {
  bed.down();
  process.exit(130);
});

try {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: bed.home };
  delete env.SSH_AUTH_SOCK;
  configureHerd(bed, [bed.hosts[0]!]);
  const h1 = bed.hosts[0]!;
  const sshOptions = peerSshOptions(bed);
  const command = ['head', '-c', String(BYTES), '/dev/zero'];
  await measure('warm-up', 1, [process.execPath, herdJs, 'run', '-H', 'h1', '--', 'true'], env);
  const agentPid = bed.processes(h1).find((p) => p.argv[0] !== '/bin/sh' && p.argv.at(-1) === 'agent')!.pid;

  const rows: Timing[] = [];
  const note = (t: Timing): Timing => {
    rows.push(t);
    console.error(`  ${t.label}: median ${t.medianMs.toFixed(0)} ms`);
    return t;
  };
  const mb = BYTES / 1e6;
  console.error(`benchmark: ${RUNS} runs each, ${mb.toFixed(0)} MB of output`);
  const ssh = note(await measure(`ssh host head -c ${BYTES}`, RUNS, ['ssh', ...sshOptions, `root@${h1.address}`, ...command], env));
  // Each run keeps a 64 MiB log on the host's 2 GiB state tmpfs: prune before each run.
  const prune = async (): Promise<void> => void (await measure('prune', 1, [process.execPath, herdJs, 'job', 'prune', '-H', 'h1', '--older-than', '0s'], env));
  const herdNode = note(await measure(`herd run head -c ${BYTES} (node)`, RUNS, [process.execPath, herdJs, 'run', '-H', 'h1', '--', ...command], env, prune));
  const herdBun = existsSync(bun) ? note(await measure(`herd run head -c ${BYTES} (bun)`, RUNS, [bun, herdJs, 'run', '-H', 'h1', '--', ...command], env, prune)) : null;
  const herdOpenssh = note(await measure(`herd run --transport openssh head -c ${BYTES} (node)`, RUNS, [process.execPath, herdJs, 'run', '--transport', 'openssh', '-H', 'h1', '--', ...command], env, prune));
  // The agent's peak over one run: clear_refs 5 resets VmHWM.
  writeFileSync(`/proc/${agentPid}/clear_refs`, '5');
  await prune();
  const clientKb = await peakRssOf([process.execPath, herdJs, 'run', '-H', 'h1', '--', ...command], env);
  const agentKb = peakKb(agentPid);

  const detached = await new Promise<string>((resolve) => {
    const child = spawn(process.execPath, [herdJs, 'run', '-H', 'h1', '--detach', '--', 'true'], { env });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.once('close', () => resolve(out.trim()));
  });
  const sshTrue = note(await measure('ssh host true', Math.max(RUNS, 10), ['ssh', ...sshOptions, `root@${h1.address}`, 'true'], env));
  const status = note(await measure('herd job status ID (warm, node)', Math.max(RUNS, 10), [process.execPath, herdJs, 'job', 'status', '-H', 'h1', detached], env));

  const rate = (t: Timing): number => BYTES / 1e6 / (t.medianMs / 1000);
  const lines = [
    `| measurement | median | min | max |`,
    `| --- | ---: | ---: | ---: |`,
    ...rows.map((r) => `| ${r.label} | ${r.medianMs.toFixed(0)} ms | ${r.minMs.toFixed(0)} ms | ${r.maxMs.toFixed(0)} ms |`),
    '',
    `| figure | value | target |`,
    `| --- | ---: | ---: |`,
    `| ssh throughput | ${rate(ssh).toFixed(0)} MB/s | |`,
    `| herd throughput (node) | ${rate(herdNode).toFixed(0)} MB/s = ${(rate(herdNode) / rate(ssh)).toFixed(2)}× ssh | ≥ 0.8× |`,
    ...(herdBun === null ? [] : [`| herd throughput (bun) | ${rate(herdBun).toFixed(0)} MB/s = ${(rate(herdBun) / rate(ssh)).toFixed(2)}× ssh | ≥ 0.8× |`]),
    `| herd throughput (--transport openssh, node) | ${rate(herdOpenssh).toFixed(0)} MB/s = ${(rate(herdOpenssh) / rate(ssh)).toFixed(2)}× ssh | |`,
    `| client peak RSS during a run (node) | ${(clientKb / 1024).toFixed(0)} MiB | bounded |`,
    `| agent peak RSS during a run | ${(agentKb / 1024).toFixed(0)} MiB | bounded |`,
    `| herd job status / ssh host true | ${(status.medianMs / sshTrue.medianMs).toFixed(2)}× | |`,
  ];
  const report = lines.join('\n');
  console.log(report);
  mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  writeFileSync(join(REPO, 'bench', 'results', 'jobs.md'), `${report}\n`);
} finally {
  bed.down();
}
