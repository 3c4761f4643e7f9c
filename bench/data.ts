/*
 * Data (npm run bench:data, as root; issue 18): herd's uploads side by side with the peers, in one run
 * on the testbed (each host's /var/lib/herd is a tmpfs; the peers write there too).
 *   1 GiB file to one host: herd run --upload, scp, rsync -a
 *   10,000 files of 4 KiB to one host: herd run --upload, rsync -a, tar c | ssh tar x
 *   100 MiB to 10 hosts: herd run -H h[1-10] --upload, clush --copy, parallel-scp
 *   an unchanged re-upload of the 10,000 files: bytes herd sends against rsync's
 *   client peak RSS for a 4 GiB upload (a local job, its state on disk)
 * Each herd run starts from nothing on the hosts (their blobs and the client's hash cache wiped): every
 * byte is sent. BENCH_RUNS repetitions (default 3), medians.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, up } from '../fixtures/testbed/testbed.ts';
import { timeOnce } from './measure.ts';
import { configureHerd, peerSshOptions } from './testbedClient.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const herdJs = join(REPO, 'dist', 'herd.js');
const bed = await up(10, { stateSize: '6g' });
const work = mkdtempSync(join(tmpdir(), 'herd-bench-data-'));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  configureHerd(bed);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: bed.home, XDG_CACHE_HOME: join(bed.home, '.cache') };
  delete env.SSH_AUTH_SOCK;
  const ssh = peerSshOptions(bed);
  const sshLine = ['ssh', ...ssh].join(' ');
  const [h1] = bed.hosts;
  const addr = (i: number): string => `root@${bed.hosts[i]!.address}`;
  const onAll = (cmd: string): void => {
    for (const host of bed.hosts) bed.onHost(host, ['sh', '-c', cmd]);
  };
  execFileSync(process.execPath, [herdJs, 'run', '--accept-new', '-H', 'h[1-10]', '--', 'true'], { env, stdio: 'ignore' });

  console.error('bench:data: making the files');
  const big = join(work, 'big.bin');
  const mid = join(work, 'mid.bin');
  const many = join(work, 'many');
  execFileSync('sh', ['-c', `head -c 1G /dev/urandom > ${big} && head -c 100M /dev/urandom > ${mid}`]);
  mkdirSync(many);
  for (let d = 0; d < 100; d++) {
    mkdirSync(join(many, `d${d}`));
    for (let f = 0; f < 100; f++) writeFileSync(join(many, `d${d}`, `f${f}`), Buffer.alloc(4096, (d * 100 + f) % 251));
  }

  // Nothing on the hosts and nothing in the client's cache: every byte goes.
  const clean = (): void => {
    rmSync(join(bed.home, '.cache', 'herd', 'upload-hashes.json'), { force: true });
    onAll('rm -rf /var/lib/herd/blobs /var/lib/herd/peer /var/lib/herd/jobs/*/work; mkdir -p /var/lib/herd/peer');
  };
  const series = async (label: string, argv: string[]): Promise<{ label: string; ms: number }> => {
    const ms: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      clean();
      ms.push(await timeOnce(argv, env));
    }
    console.error(`  ${label}: median ${median(ms).toFixed(0)} ms`);
    return { label, ms: median(ms) };
  };
  const herdUp = (hosts: string, src: string, name: string): string[] => [process.execPath, herdJs, 'run', '-H', hosts, '--upload', `${src}:${name}`, '--', 'rm', '-rf', name];

  const oneBig = [
    await series('1 GiB, one host: herd run --upload', herdUp('h1', big, 'big.bin')),
    await series('1 GiB, one host: scp', ['scp', '-q', ...ssh, big, `${addr(0)}:/var/lib/herd/peer/`]),
    await series('1 GiB, one host: rsync -a', ['rsync', '-a', '-e', sshLine, big, `${addr(0)}:/var/lib/herd/peer/`]),
  ];
  const manySmall = [
    await series('10,000 × 4 KiB, one host: herd run --upload', herdUp('h1', many, 'many')),
    await series('10,000 × 4 KiB, one host: rsync -a', ['rsync', '-a', '-e', sshLine, many, `${addr(0)}:/var/lib/herd/peer/`]),
    await series('10,000 × 4 KiB, one host: tar c | ssh tar x', ['sh', '-c', `tar cf - -C ${work} many | ${sshLine} ${addr(0)} tar xf - -C /var/lib/herd/peer`]),
  ];
  const addresses = bed.hosts.map((h) => h.address);
  const hostsFile = join(work, 'hosts');
  writeFileSync(hostsFile, `${addresses.map((a) => `root@${a}`).join('\n')}\n`);
  const fan = [
    await series('100 MiB to 10 hosts: herd run --upload', herdUp('h[1-10]', mid, 'mid.bin')),
    await series('100 MiB to 10 hosts: clush --copy', ['clush', '-f', '64', '-l', 'root', '-o', ssh.join(' '), '-w', addresses.join(','), '--copy', mid, '--dest', '/var/lib/herd/peer/']),
    await series('100 MiB to 10 hosts: parallel-scp', ['parallel-scp', '-p', '64', '-h', hostsFile, '-x', ssh.join(' '), mid, '/var/lib/herd/peer/']),
  ];

  // An unchanged re-upload: what each sends the second time.
  clean();
  const first = spawnSync(process.execPath, [herdJs, 'run', '--json', '-H', 'h1', '--upload', `${many}:many`, '--', 'true'], { env, encoding: 'utf8' });
  const again = spawnSync(process.execPath, [herdJs, 'run', '--json', '-H', 'h1', '--upload', `${many}:many`, '--', 'true'], { env, encoding: 'utf8' });
  const sent = (out: string): number => (JSON.parse(out) as { hosts: Array<{ upload: { sentBytes: number } }> }).hosts[0]!.upload.sentBytes;
  const rsyncStats = (): number => {
    const out = execFileSync('rsync', ['-a', '--stats', '-e', sshLine, many, `${addr(0)}:/var/lib/herd/peer/`], { env, encoding: 'utf8' });
    return Number(/Total bytes sent: ([\d,]+)/.exec(out)?.[1]?.replace(/,/g, '') ?? NaN);
  };
  rsyncStats();
  const rsyncAgain = rsyncStats();
  const herdBytes = { first: sent(first.stdout), again: sent(again.stdout) };

  // Client memory for a 4 GiB upload: a local job, its state on this machine's disk.
  const local = mkdtempSync(join(tmpdir(), 'herd-bench-local-'));
  const huge = join(local, 'huge.bin');
  execFileSync('truncate', ['-s', '4G', huge]);
  const timed = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, herdJs, 'run', '--upload', `${huge}:huge.bin`, '--', 'rm', 'huge.bin'], {
    env: { ...env, HERD_STATE_DIR: join(local, 'state'), XDG_CACHE_HOME: join(local, 'cache') },
    encoding: 'utf8',
  });
  const peakMiB = Number(timed.stderr.trim().split('\n').at(-1)) / 1024;
  for (const pid of execFileSync('sh', ['-c', `cat ${join(local, 'state')}/agent-*.lock 2>/dev/null || true`], { encoding: 'utf8' }).split(/\s+/).filter(Boolean)) process.kill(Number(pid), 'SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 2500));
  rmSync(local, { recursive: true, force: true });

  const ratio = (a: { ms: number }, b: { ms: number }): string => `${(b.ms / a.ms).toFixed(2)}×`;
  const rows = [...oneBig, ...manySmall, ...fan];
  const report = [
    `bench:data, ${RUNS} runs each (medians), ${new Date().toISOString().slice(0, 10)}`,
    '',
    '| measurement | median |',
    '| --- | ---: |',
    ...rows.map((r) => `| ${r.label} | ${r.ms.toFixed(0)} ms |`),
    '',
    '| ratio (higher: herd faster) | value | target |',
    '| --- | ---: | ---: |',
    `| 1 GiB: rsync / herd | ${ratio(oneBig[0]!, oneBig[2]!)} | ≥ 0.9× |`,
    `| 1 GiB: scp / herd | ${ratio(oneBig[0]!, oneBig[1]!)} | |`,
    `| 10,000 files: faster of rsync and tar / herd | ${ratio(manySmall[0]!, { ms: Math.min(manySmall[1]!.ms, manySmall[2]!.ms) })} | ≥ 1.0× |`,
    `| 100 MiB to 10 hosts: herd / clush --copy | ${(fan[0]!.ms / fan[1]!.ms).toFixed(2)}× (time) | ≤ 0.5× |`,
    `| 100 MiB to 10 hosts: herd / parallel-scp | ${(fan[0]!.ms / fan[2]!.ms).toFixed(2)}× (time) | |`,
    `| unchanged 10,000 files again: bytes sent, herd / rsync | ${herdBytes.again} / ${rsyncAgain} (first time herd sent ${herdBytes.first}) | |`,
    `| client peak RSS, 4 GiB upload | ${peakMiB.toFixed(0)} MiB | < 100 MiB |`,
  ].join('\n');
  console.log(report);
  void h1;
} finally {
  bed.down();
  rmSync(work, { recursive: true, force: true });
}
