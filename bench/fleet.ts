/*
 * Fan-out on a fleet (npm run bench:fleet, as root): every tool runs `true` on BENCH_HOSTS (default 50)
 * testbed hosts, side by side in one run.
 *   herd, cold connections (a new SSH handshake per host, agents already up), under node and bun
 *   herd --persist (warm: the connections kept by the persist daemon from the previous run), also --network none
 *   herd --isolation none (host mode: no sandbox to pay for, as clush and pssh), new connections and --persist
 *   herd --transport openssh
 *   clush -f 64, parallel-ssh -p 64, ansible -f 64 -m command (ansible's own default ControlPersist applies)
 * BENCH_RUNS sets the repetitions (default 7). Targets (issue 6): cold ≤ 0.7× clush, warm ≤ 0.2× clush;
 * (issue 16) host mode without --persist ≤ 0.3× clush.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { REPO, up } from '../fixtures/testbed/testbed.ts';
import { measure, type Timing } from './measure.ts';
import { configureHerd, peerSshOptions } from './testbedClient.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const HOSTS = Number(process.env.BENCH_HOSTS ?? 50);
const herdJs = join(REPO, 'dist', 'herd.js');
const bun = join(REPO, '.runtimes', 'node_modules', '.bin', 'bun');

const bed = await up(HOSTS);
// The persist daemon's socket and pid file: a directory of this run's own, so its daemon is ours to end.
const runtime = mkdtempSync(join(tmpdir(), 'herd-bench-rt-'));
const stop = async (): Promise<void> => {
  await measure('persist stop', 1, [process.execPath, herdJs, 'persist', 'stop'], env).catch(() => undefined);
  bed.down();
  rmSync(runtime, { recursive: true, force: true });
};
const env: NodeJS.ProcessEnv = { ...process.env, HOME: bed.home, XDG_RUNTIME_DIR: runtime };
delete env.SSH_AUTH_SOCK;
process.on('SIGINT', () => {
  void stop().then(() => process.exit(130));
});

try {
  configureHerd(bed);
  const sshOptions = peerSshOptions(bed);
  const all = `h[1-${HOSTS}]`;
  const addresses = bed.hosts.map((h) => h.address);
  const inventory = join(bed.home, 'inventory.ini');
  writeFileSync(
    inventory,
    [
      '[fleet]',
      ...bed.hosts.map((h) => `${h.name} ansible_host=${h.address}`),
      '[fleet:vars]',
      'ansible_user=root',
      `ansible_ssh_private_key_file=${bed.clientKey}`,
      `ansible_ssh_common_args='-F none -o UserKnownHostsFile=${bed.knownHosts} -o StrictHostKeyChecking=yes'`,
      'ansible_python_interpreter=/usr/bin/python3',
      '',
    ].join('\n'),
  );

  // Every host once: helper shipped, agent started, ansible's facts of the interpreter settled.
  await measure('warm-up', 1, [process.execPath, herdJs, 'run', '-H', all, '--', 'true'], env);

  const rows: Timing[] = [];
  const note = (t: Timing): Timing => {
    rows.push(t);
    console.error(`  ${t.label}: median ${t.medianMs.toFixed(0)} ms`);
    return t;
  };
  console.error(`fleet benchmark: ${RUNS} runs each, ${HOSTS} testbed hosts, \`true\` on each`);
  const herdCold = note(await measure(`herd run (node), new connections`, RUNS, [process.execPath, herdJs, 'run', '-H', all, '--', 'true'], env));
  const hostMode = note(await measure(`herd run --isolation none (node), new connections`, RUNS, [process.execPath, herdJs, 'run', '--isolation', 'none', '-H', all, '--', 'true'], env));
  const herdBun = existsSync(bun) ? note(await measure(`herd run (bun), new connections`, RUNS, [bun, herdJs, 'run', '-H', all, '--', 'true'], env)) : null;
  const persist = [process.execPath, herdJs, 'run', '--persist', '10m', '-H', all, '--', 'true'];
  await measure('persist warm-up', 1, persist, env);
  const herdWarm = note(await measure(`herd run --persist (node), kept connections`, RUNS, persist, env));
  // The same without a network namespace and veth per job: what connection reuse alone leaves.
  note(await measure(`herd run --persist --network none (node)`, RUNS, [...persist.slice(0, -2), '--network', 'none', '--', 'true'], env));
  note(await measure(`herd run --persist --isolation none (node)`, RUNS, [...persist.slice(0, -2), '--isolation', 'none', '--', 'true'], env));
  await measure('persist stop', 1, [process.execPath, herdJs, 'persist', 'stop'], env);
  const herdOpenssh = note(await measure(`herd run --transport openssh (node)`, RUNS, [process.execPath, herdJs, 'run', '--transport', 'openssh', '-H', all, '--', 'true'], env));
  const clush = note(await measure(`clush -f 64`, RUNS, ['clush', '-f', '64', '-l', 'root', '-o', sshOptions.join(' '), '-w', addresses.join(','), 'true'], env));
  const pssh = note(await measure(`parallel-ssh -p 64`, RUNS, ['parallel-ssh', '-p', '64', '-l', 'root', ...addresses.flatMap((a) => ['-H', a]), '-x', sshOptions.join(' '), 'true'], env));
  const ansibleEnv = { ...env, ANSIBLE_HOST_KEY_CHECKING: 'True', ANSIBLE_LOCALHOST_WARNING: 'False', ANSIBLE_DEPRECATION_WARNINGS: 'False' };
  await measure('ansible warm-up', 1, ['ansible', 'fleet', '-i', inventory, '-f', '64', '-m', 'command', '-a', 'true'], ansibleEnv);
  const ansible = note(await measure(`ansible -f 64 -m command`, RUNS, ['ansible', 'fleet', '-i', inventory, '-f', '64', '-m', 'command', '-a', 'true'], ansibleEnv));

  const ratio = (a: Timing | null, b: Timing): string => (a === null ? 'n/a' : `${(a.medianMs / b.medianMs).toFixed(2)}×`);
  const lines = [
    `${HOSTS} hosts, \`true\` on each, ${RUNS} runs, ${new Date().toISOString().slice(0, 10)}`,
    '',
    `| tool | median | min | max | / clush |`,
    `| --- | ---: | ---: | ---: | ---: |`,
    ...rows.map((r) => `| ${r.label} | ${r.medianMs.toFixed(0)} ms | ${r.minMs.toFixed(0)} ms | ${r.maxMs.toFixed(0)} ms | ${ratio(r, clush)} |`),
    '',
    `| target | value |`,
    `| --- | ---: |`,
    `| herd (new connections) ≤ 0.7× clush | ${ratio(herdCold, clush)} (bun ${ratio(herdBun, clush)}) |`,
    `| herd --persist ≤ 0.2× clush | ${ratio(herdWarm, clush)} |`,
    `| herd --isolation none (new connections) ≤ 0.3× clush | ${ratio(hostMode, clush)} |`,
    `| herd / parallel-ssh, / ansible | ${ratio(herdCold, pssh)}, ${ratio(herdCold, ansible)} |`,
    `| herd --transport openssh / clush | ${ratio(herdOpenssh, clush)} |`,
  ];
  const report = lines.join('\n');
  console.log(report);
  mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  writeFileSync(join(REPO, 'bench', 'results', `fleet-${new Date().toISOString().replace(/[:.]/g, '-')}.md`), `${report}\n`);
} finally {
  await stop();
}
