/*
 * known_hosts as OpenSSH reads it (issue 13): @revoked keys are refused and never recorded over,
 * @cert-authority trusts host certificates made with ssh-keygen -s, and a changed key is refused
 * under --transport openssh whatever StrictHostKeyChecking says in ~/.ssh/config. Each verdict is
 * checked against OpenSSH's own on the same files.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { up, type Testbed } from '../../fixtures/testbed/testbed.ts';
import { gate, herd, loud } from './harness.ts';

const Keys = suite('known_hosts: @revoked, @cert-authority, a changed key under openssh');
const enabled = gate('hostKeys.test.ts', { root: true, commands: ['ssh', 'ssh-keygen', '/usr/sbin/sshd', 'ip', 'nsenter'] });
const scratch = mkdtempSync(join(tmpdir(), 'herd-hostkeys-'));
const ca = join(scratch, 'ca');
const certified = join(scratch, 'certified_ecdsa');
let bed: Testbed;
let address = '';
let hostKeyLine = '';

Keys.before(loud(async () => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'herd-test-ca', '-f', ca]);
  // A second host key, of another type, with a certificate: OpenSSH asks for certificates first
  // when a CA is trusted for the host, and plain keys otherwise.
  execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', '', '-f', certified]);
  bed = await up(1, { sshdOptions: () => [`HostKey=${certified}`, `HostCertificate=${certified}-cert.pub`] });
  address = bed.hosts[0]!.address;
  hostKeyLine = bed.knownHostsLine(bed.hosts[0]!).split(' ').slice(1).join(' ');
  execFileSync('ssh-keygen', ['-q', '-s', ca, '-I', 'h1', '-h', '-n', address, '-V', '-5m:+1h', `${certified}.pub`]);
  // sshd read its HostCertificate at start, before the file existed: start it again (SIGHUP re-execs).
  process.kill(bed.hosts[0]!.sshdPid, 'SIGHUP');
  await new Promise((resolve) => setTimeout(resolve, 500));
}));

Keys.after(() => {
  bed?.down();
  rmSync(scratch, { recursive: true, force: true });
});

const knownHosts = (): string => join(bed.home, '.ssh', 'known_hosts');
const setKnownHosts = (lines: string[]): void => writeFileSync(knownHosts(), `${lines.join('\n')}\n`);
/** OpenSSH's verdict on the same known_hosts: its exit status (255 refused) and what it said. */
const openssh = (extra: string[] = []): { code: number | null; stderr: string } => {
  const r = spawnSync('ssh', ['-F', 'none', '-i', bed.clientKey, '-o', `UserKnownHostsFile=${knownHosts()}`, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', ...extra, `root@${address}`, 'true'], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stderr: r.stderr };
};
const run = (flags: string[] = []) => herd(['run', '--network', 'none', ...flags, '-H', `root@${address}`, '--', 'true'], { home: bed.home, timeoutMs: 60_000 });

Keys('@revoked: a revoked key is refused, even where it is also recorded (OpenSSH agrees), by both transports', async () => {
  setKnownHosts([`${address} ${hostKeyLine}`, `@revoked ${address} ${hostKeyLine}`]);
  // The host also has an ECDSA key (for the certificate below): have ssh ask for the revoked type,
  // as herd's ssh2 transport does (it asks only for the types on record).
  const theirs = openssh(['-o', 'HostKeyAlgorithms=ssh-ed25519']);
  assert.is(theirs.code, 255);
  assert.match(theirs.stderr, /REVOKED HOST KEY/, theirs.stderr);
  const config = join(bed.home, '.ssh', 'config');
  writeFileSync(config, 'Host *\n  HostKeyAlgorithms ssh-ed25519\n');
  try {
    for (const transport of ['ssh2', 'openssh']) {
      const ours = await run(['--transport', transport]);
      assert.is(ours.code, 255, `${transport}: ${ours.stderr}`);
      assert.match(ours.stderr, /\[HOST_KEY_REVOKED\]/, `${transport}: ${ours.stderr}`);
    }
  } finally {
    rmSync(config, { force: true });
  }
});

Keys('@revoked: --accept-new never records a revoked key', async () => {
  setKnownHosts([`@revoked ${address} ${hostKeyLine}`]);
  const before = readFileSync(knownHosts(), 'utf8');
  const ours = await run(['--accept-new']);
  assert.is(ours.code, 255, ours.stderr);
  assert.match(ours.stderr, /\[HOST_KEY_REVOKED\]/);
  assert.is(readFileSync(knownHosts(), 'utf8'), before, 'known_hosts unchanged');
});

/** Certifies the host's ECDSA key anew and has its sshd present the new certificate. */
async function recertify(flags: string[]): Promise<void> {
  execFileSync('ssh-keygen', ['-q', '-s', ca, '-I', 'h1', '-h', ...flags, `${certified}.pub`]);
  process.kill(bed.hosts[0]!.sshdPid, 'SIGHUP');
  await new Promise((resolve) => setTimeout(resolve, 500));
}

Keys('@cert-authority: a host certificate from the CA is trusted by OpenSSH and by both transports; nothing is recorded', async () => {
  setKnownHosts([`@cert-authority ${address} ${readFileSync(`${ca}.pub`, 'utf8').trim()}`]);
  const before = readFileSync(knownHosts(), 'utf8');
  assert.is(openssh().code, 0, openssh().stderr);
  for (const transport of ['openssh', 'ssh2']) {
    const ours = await run(['--transport', transport, '--accept-new']);
    assert.is(ours.code, 0, `${transport}: ${ours.stderr}`);
  }
  assert.is(readFileSync(knownHosts(), 'utf8'), before, 'a certified host needs no key of its own on record');
});

Keys('@cert-authority: a certificate naming another host, an expired one, or one from a revoked CA is refused by OpenSSH and herd alike', async () => {
  const caLine = `@cert-authority ${address} ${readFileSync(`${ca}.pub`, 'utf8').trim()}`;
  setKnownHosts([caLine]);
  const cases: Array<[string, string[], string[], RegExp]> = [
    ['another host', ['-n', '10.99.9.9', '-V', '-5m:+1h'], [], /names 10\.99\.9\.9, not/],
    ['expired', ['-n', address, '-V', '20200101:20200102'], [], /expired/],
    ['revoked CA', ['-n', address, '-V', '-5m:+1h'], [`@revoked * ${readFileSync(`${ca}.pub`, 'utf8').trim()}`], /revoked/],
  ];
  try {
    for (const [what, flags, extra, why] of cases) {
      await recertify(flags);
      setKnownHosts([caLine, ...extra]);
      assert.is(openssh().code, 255, `${what}: OpenSSH accepted it`);
      const ours = await run();
      assert.is(ours.code, 255, `${what}: ${ours.stderr}`);
      assert.match(ours.stderr, /host certificate that is refused/, `${what}: ${ours.stderr}`);
      assert.match(ours.stderr, why, `${what}: ${ours.stderr}`);
    }
  } finally {
    await recertify(['-n', address, '-V', '-5m:+1h']);
  }
});

Keys('--transport openssh refuses a changed key even with StrictHostKeyChecking no in ~/.ssh/config', async () => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(scratch, 'wrong')]);
  const wrong = readFileSync(join(scratch, 'wrong.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  setKnownHosts([`${address} ${wrong}`]);
  const config = join(bed.home, '.ssh', 'config');
  writeFileSync(config, 'Host *\n  StrictHostKeyChecking no\n');
  // No remembered agent socket: the first thing sent is the bootstrap, which ssh would run.
  rmSync(join(bed.home, '.cache', 'herd', 'agents.json'), { force: true });
  try {
    const ours = await run(['--transport', 'openssh']);
    assert.is(ours.code, 255, `the job ran on a host whose key changed: ${ours.stderr}`);
    assert.match(ours.stderr, /\[HOST_KEY_MISMATCH\]/);
  } finally {
    rmSync(config, { force: true });
  }
});

if (enabled) Keys.run();
