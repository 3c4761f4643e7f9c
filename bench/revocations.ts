/*
 * The cost of revocation (npm run bench:revocations; no root, no testbed): the host's side of the
 * handshake (hostAccept) with no list, with a 10,000-serial list it already has, and with that list
 * offered anew (parsed and checked); the list's size. Beside it OpenSSH's KRL for the same 10,000
 * serials: `ssh-keygen -k` to build it, its size, and `ssh-keygen -Q` to check one key against it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
