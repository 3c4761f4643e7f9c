/*
 * Side-by-side start-up and fan-out benchmark on the testbed (npm run bench, as root).
 *   herd run -H host -- true   warm (helper cached, agent up) under node and bun; cold (first contact)
 *   ssh host true
 *   10 hosts: herd vs clush -f 64 vs parallel-ssh -p 64
 *   herd --version start-up
 * Prints a table with medians and ratios; BENCH_RUNS sets the repetitions (default 15).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, up } from '../fixtures/testbed/testbed.ts';
import { measure, type Timing } from './measure.ts';
import { configureHerd, peerSshOptions } from './testbedClient.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const HOSTS = Number(process.env.BENCH_HOSTS ?? 10);
const herdJs = join(REPO, 'dist', 'herd.js');
const bun = join(REPO, '.runtimes', 'node_modules', '.bin', 'bun');

const bed = await up(HOSTS);
const stop = (): void => bed.down();
process.on('SIGINT', () => {
  stop();
  process.exit(130);
});

try {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: bed.home };
  delete env.SSH_AUTH_SOCK;
  configureHerd(bed);
  const sshOptions = peerSshOptions(bed);
  const h1 = bed.hosts[0]!;
  const all = bed.hosts.map((h) => h.name).join(',');
  const addresses = bed.hosts.map((h) => h.address);

  // Warm every host once (helper shipped, agent started) before the warm measurements.
  await measure('warm-up', 1, [process.execPath, herdJs, 'run', '-H', all, '--', 'true'], env);

  // Stop the agent as an operator would (it removes its spare cgroup, which the wiped state
  // directory could no longer name), then wipe the state: the next run is a first contact.
  const resetHost = async (): Promise<void> => {
    const agents = bed.processes(h1).filter((p) => p.argv[0] !== '/bin/sh' && p.argv.at(-1) === 'agent');
    for (const p of agents) process.kill(p.pid, 'SIGTERM');
    for (let i = 0; i < 50 && bed.processes(h1).some((p) => agents.some((a) => a.pid === p.pid)); i++) await new Promise((r) => setTimeout(r, 50));
    bed.onHost(h1, ['sh', '-c', 'rm -rf /var/lib/herd/* /var/lib/herd/.[!.]*']);
  };

  const rows: Timing[] = [];
  const note = (t: Timing): Timing => {
    rows.push(t);
    console.error(`  ${t.label}: median ${t.medianMs.toFixed(0)} ms`);
    return t;
  };
  console.error(`benchmark: ${RUNS} runs each, ${HOSTS} testbed hosts`);
  const version = note(await measure('herd --version (node)', RUNS, [process.execPath, herdJs, '--version'], env));
  const ssh = note(await measure('ssh host true', RUNS, ['ssh', ...sshOptions, `root@${h1.address}`, 'true'], env));
  const warmNode = note(await measure('herd run -H host -- true, warm (node)', RUNS, [process.execPath, herdJs, 'run', '-H', 'h1', '--', 'true'], env));
  const warmBun = existsSync(bun) ? note(await measure('herd run -H host -- true, warm (bun)', RUNS, [bun, herdJs, 'run', '-H', 'h1', '--', 'true'], env)) : null;
  const cold = note(await measure('herd run -H host -- true, cold (node)', Math.min(RUNS, 8), [process.execPath, herdJs, 'run', '-H', 'h1', '--', 'true'], env, resetHost));
  await measure('re-warm', 1, [process.execPath, herdJs, 'run', '-H', 'h1', '--', 'true'], env);
  const fanHerd = note(await measure(`herd run -H ${HOSTS} hosts -- true (node)`, RUNS, [process.execPath, herdJs, 'run', '-H', all, '--', 'true'], env));
  const fanClush = note(await measure(`clush -f 64 ${HOSTS} hosts true`, RUNS, ['clush', '-f', '64', '-l', 'root', '-o', sshOptions.join(' '), '-w', addresses.join(','), 'true'], env));
  const fanPssh = note(
    await measure(`parallel-ssh -p 64 ${HOSTS} hosts true`, RUNS, ['parallel-ssh', '-p', '64', '-l', 'root', ...addresses.flatMap((a) => ['-H', a]), '-x', sshOptions.join(' '), 'true'], env),
  );

  const ratio = (a: Timing | null, b: Timing): string => (a === null ? 'n/a' : `${(a.medianMs / b.medianMs).toFixed(2)}×`);
  const lines = [
    `| measurement | median | min | max |`,
    `| --- | ---: | ---: | ---: |`,
    ...rows.map((r) => `| ${r.label} | ${r.medianMs.toFixed(0)} ms | ${r.minMs.toFixed(0)} ms | ${r.maxMs.toFixed(0)} ms |`),
    '',
    `| ratio | value | target |`,
    `| --- | ---: | ---: |`,
    `| warm (node) / ssh | ${ratio(warmNode, ssh)} | ≤ 1.3× |`,
    `| warm (bun) / ssh | ${ratio(warmBun, ssh)} | ≤ 1.0× |`,
    `| cold / ssh | ${ratio(cold, ssh)} | ≤ 3× |`,
    `| ${HOSTS} hosts: herd / clush | ${ratio(fanHerd, fanClush)} | ≤ 0.7× |`,
    `| ${HOSTS} hosts: herd / parallel-ssh | ${ratio(fanHerd, fanPssh)} | |`,
    `| herd --version start-up | ${version.medianMs.toFixed(0)} ms | |`,
  ];
  const report = lines.join('\n');
  console.log(report);
  mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  writeFileSync(join(REPO, 'bench', 'results', `startup-${new Date().toISOString().replace(/[:.]/g, '-')}.md`), `${report}\n`);
} finally {
  stop();
}
