/*
 * The cost of revocation (npm run bench:revocations; no root, no testbed): the host's side of the
 * handshake (hostAccept) with no list, with a 10,000-serial list it already has, and with that list
 * offered anew (parsed and checked); the list's size. Beside it OpenSSH's KRL for the same 10,000
 * serials: `ssh-keygen -k` to build it, its size, and `ssh-keygen -Q` to check one key against it.
 * As root (BENCH_FLEET=0 leaves it out), also on BENCH_HOSTS (default 10) testbed hosts: the time from
 * `herd cert revoke` + `herd host sync` to the first run of the revoked certificate refused on every host,
 * BENCH_RUNS_FLEET times (default 5).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { REPO, up } from '../fixtures/testbed/testbed.ts';
import { configureHerd } from './testbedClient.ts';
import { toHex } from '../src/protocol/bytes.ts';
import { generateKeyPair, issueCert, keyId, randomBytes } from '../src/protocol/cert.ts';
import { clientAuth, hostAccept, hostHello, newNonce, type HostIdentity } from '../src/protocol/handshake.ts';
import { parseRevocations, signRevocations } from '../src/protocol/revocations.ts';
import { installNativeEd25519 } from '../src/shared/nativeEd25519.ts';

const SERIALS = Number(process.env.BENCH_SERIALS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 200);
installNativeEd25519();

const now = Math.floor(Date.now() / 1000);
const ca = generateKeyPair();
const user = generateKeyPair();
const cert = issueCert(ca, { subject: 'uma', role: 'user', publicKey: user.publicKey, now, ttlSeconds: 3600 });
const hostKey = generateKeyPair();
const hostCert = issueCert(ca, { subject: 'h', role: 'host', publicKey: hostKey.publicKey, now, ttlSeconds: 3600 });
const serials = Array.from({ length: SERIALS }, () => toHex(randomBytes(8)));
const list = signRevocations({ version: 1, serials, subjects: [] }, ca, now);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median µs of the host's handshake step, `host` holding `held` and the client offering `offered`. */
function handshakeMicros(held: string | null, offered: string | undefined): number {
  const host: HostIdentity = {
    hostKey,
    cas: [{ key: ca.publicKey, id: keyId(ca.publicKey), hostCert, revocations: held === null ? null : { list: parseRevocations(held, ca.publicKey), text: held } }],
    legacyCa: null,
  };
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const nonce = newNonce();
    const { auth } = clientAuth(hostHello(host, nonce), { cert, secretKey: user.secretKey, caKey: ca.publicKey, ...(offered === undefined ? {} : { revocations: offered }) }, newNonce(), now, { names: ['h'], enrolAs: 'h' });
    const began = process.hrtime.bigint();
    hostAccept(auth, host, nonce, now, { owner: true });
    times.push(Number(process.hrtime.bigint() - began) / 1000);
  }
  return median(times);
}

const none = handshakeMicros(null, undefined);
const held = handshakeMicros(list, list);
const fresh = handshakeMicros(null, list);

const dir = mkdtempSync(join(tmpdir(), 'herd-bench-krl-'));
let krl: { buildMs: number; bytes: number; queryMs: number } | null = null;
try {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'ca')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'user')]);
  execFileSync('ssh-keygen', ['-q', '-s', join(dir, 'ca'), '-I', 'uma', '-z', '12345', join(dir, 'user.pub')]);
  // A KRL specification: one serial per line, as 64-bit numbers.
  writeFileSync(join(dir, 'spec'), serials.map((s) => `serial: ${BigInt(`0x${s}`)}`).join('\n') + '\n');
  let began = process.hrtime.bigint();
  execFileSync('ssh-keygen', ['-k', '-f', join(dir, 'krl'), '-s', join(dir, 'ca.pub'), join(dir, 'spec')]);
  const buildMs = Number(process.hrtime.bigint() - began) / 1e6;
  const queries: number[] = [];
  for (let i = 0; i < 15; i++) {
    began = process.hrtime.bigint();
    try {
      execFileSync('ssh-keygen', ['-Q', '-f', join(dir, 'krl'), join(dir, 'user-cert.pub')], { stdio: 'ignore' });
    } catch {
      // exit 1 would mean revoked; 12345 is not among the random serials
    }
    queries.push(Number(process.hrtime.bigint() - began) / 1e6);
  }
  krl = { buildMs, bytes: statSync(join(dir, 'krl')).size, queryMs: median(queries) };
} catch (err) {
  process.stderr.write(`ssh-keygen: ${(err as Error).message.split('\n')[0]}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const rows = [
  ['host handshake step, no list', `${none.toFixed(0)} µs`],
  [`host handshake step, ${SERIALS} revoked (list held)`, `${held.toFixed(0)} µs`],
  [`host handshake step, ${SERIALS} revoked (list offered anew, checked)`, `${fresh.toFixed(0)} µs`],
  [`herd list size, ${SERIALS} serials`, `${list.length} bytes`],
  ...(krl === null ? [] : [
    [`OpenSSH KRL size, ${SERIALS} serials`, `${krl.bytes} bytes`],
    ['ssh-keygen -k (build the KRL)', `${krl.buildMs.toFixed(0)} ms`],
    ['ssh-keygen -Q (check one certificate, a whole process)', `${krl.queryMs.toFixed(1)} ms`],
  ]),
];
process.stdout.write(`| measurement | value |\n| --- | ---: |\n${rows.map(([a, b]) => `| ${a} | ${b} |`).join('\n')}\n`);
process.stdout.write(`\nheld list vs none: +${(held - none).toFixed(0)} µs per handshake (target < 1 ms)\n`);

/** One herd command as the testbed's client; its status and wall time. */
function herdOnce(home: string, args: string[]): { code: number | null; ms: number; stderr: string } {
  const began = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [join(REPO, 'dist', 'herd.js'), ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home }, encoding: 'utf8' });
  return { code: r.status, ms: Number(process.hrtime.bigint() - began) / 1e6, stderr: r.stderr };
}

async function fleetSync(): Promise<void> {
  const hostCount = Number(process.env.BENCH_HOSTS ?? 10);
  const runs = Number(process.env.BENCH_RUNS_FLEET ?? 5);
  const bed = await up(hostCount);
  try {
    configureHerd(bed);
    const all = `h[1-${hostCount}]`;
    const hosts = Object.fromEntries(bed.hosts.map((h) => [h.name, { address: h.address, user: 'root' }]));
    const warm = herdOnce(bed.home, ['run', '-H', all, '--', 'true']);
    if (warm.code !== 0) throw new Error(`warm-up: ${warm.stderr}`);
    const rows: Array<{ revokeMs: number; syncMs: number; refusedMs: number; totalMs: number }> = [];
    for (let i = 0; i < runs; i++) {
      const config = join(bed.home, `rita${i}.yml`);
      if (herdOnce(bed.home, ['cert', 'issue', `rita${i}`, '--out', config]).code !== 0) throw new Error('cert issue failed');
      writeFileSync(config, `${readFileSync(config, 'utf8')}${stringify({ hosts })}`, { mode: 0o600 });
      const ok = herdOnce(bed.home, ['run', '--config', config, '-H', all, '--', 'true']);
      if (ok.code !== 0) throw new Error(`rita${i} before the revoke: ${ok.stderr}`);
      const revoke = herdOnce(bed.home, ['cert', 'revoke', `rita${i}`]);
      const sync = herdOnce(bed.home, ['host', 'sync', '-H', all]);
      const refused = herdOnce(bed.home, ['run', '--config', config, '-H', all, '--', 'true']);
      const count = (refused.stderr.match(/\[CERT_REVOKED\]/g) ?? []).length;
      if (revoke.code !== 0 || sync.code !== 0 || count !== hostCount) throw new Error(`revoke ${revoke.code}, sync ${sync.code}, ${count} of ${hostCount} refused: ${sync.stderr}${refused.stderr.slice(0, 400)}`);
      rows.push({ revokeMs: revoke.ms, syncMs: sync.ms, refusedMs: refused.ms, totalMs: revoke.ms + sync.ms + refused.ms });
    }
    const med = (pick: (r: (typeof rows)[number]) => number): string => `${median(rows.map(pick)).toFixed(0)} ms`;
    process.stdout.write(`\n| on ${hostCount} testbed hosts (median of ${runs}) | time |\n| --- | ---: |\n`);
    process.stdout.write(`| herd cert revoke SUBJECT | ${med((r) => r.revokeMs)} |\n| herd host sync -H ${all} | ${med((r) => r.syncMs)} |\n`);
    process.stdout.write(`| the revoked certificate's run, refused on all ${hostCount} | ${med((r) => r.refusedMs)} |\n| revoke → refused everywhere | ${med((r) => r.totalMs)} |\n`);
  } finally {
    bed.down();
  }
}

if (process.getuid?.() === 0 && process.env.BENCH_FLEET !== '0') await fleetSync();
else process.stdout.write('\n(revoke → refused on testbed hosts: needs root; left out)\n');
