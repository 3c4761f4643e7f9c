/*
 * A hostile host against the client (issue 13): an sshd whose ForceCommand speaks for a
 * compromised fleet member (fixtures/hostile/host.ts). Whatever it does, herd ends in bounded time
 * and memory with a code that says what happened, and can always be interrupted.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { parse } from 'yaml';
import { REPO, up, type Testbed } from '../../fixtures/testbed/testbed.ts';
import { fromBase64Url, toBase64Url } from '../../src/protocol/bytes.ts';
import { generateKeyPair, issueCert, keyId, parseCert, type KeyPair } from '../../src/protocol/cert.ts';
import { gate, herd, loud, sleep, stopAgents, watchPeak, type HerdRun } from './harness.ts';

const Hostile = suite('a hostile host cannot hurt the client');
const enabled = gate('hostile.test.ts', { root: true, commands: ['sshd', 'ip', 'nsenter', 'unshare'] });
const scratch = mkdtempSync(join(tmpdir(), 'herd-hostile-'));
const modeFile = join(scratch, 'mode');
let bed: Testbed;
let target = '';

/** The client's resident memory may grow this much over a run whatever the host sends. */
const RSS_BOUND_MB = 200;

Hostile.before(loud(async () => {
  chmodSync(scratch, 0o755);
  writeFileSync(modeFile, 'silent\n', { mode: 0o644 });
  bed = await up(1, { sshdOptions: () => [`ForceCommand cd ${REPO} && exec node --import tsx fixtures/hostile/host.ts ${modeFile}`] });
  target = `root@${bed.hosts[0]!.address}`;
}));

Hostile.after(() => {
  bed?.down();
  rmSync(scratch, { recursive: true, force: true });
});

interface Against {
  run: HerdRun;
  ms: number;
  peakMb: number;
}

async function against(mode: string, flags: string[] = ['--handshake-timeout', '3s'], onStart?: (child: ChildProcess) => void): Promise<Against> {
  writeFileSync(modeFile, `${mode}\n`);
  let peak: { peakMb(): number } | undefined;
  const started = Date.now();
  const run = await herd(['run', '-H', target, ...flags, '--', 'true'], {
    home: bed.home,
    timeoutMs: 40_000,
    onStart: (child) => {
      peak = watchPeak(child);
      onStart?.(child);
    },
  });
  return { run, ms: Date.now() - started, peakMb: peak?.peakMb() ?? 0 };
}

for (const mode of ['silent', 'noise', 'stderr-flood', 'ping-flood']) {
  Hostile(`${mode}: ends as HOST_UNRESPONSIVE at the handshake deadline, in bounded memory`, async () => {
    const { run, ms, peakMb } = await against(mode);
    assert.is(run.code, 254, "unreachable: no job ran");
    assert.match(run.stderr, /HOST_UNRESPONSIVE/, run.stderr);
    assert.match(run.stderr, /3 s/, 'names the deadline');
    assert.ok(ms < 12_000, `took ${ms} ms with a 3 s deadline`);
    assert.ok(peakMb < RSS_BOUND_MB, `client peak RSS ${peakMb} MB`);
  });
}

Hostile('send-loop: a host asking for the helper again and again is refused at the second ask', async () => {
  const { run, ms, peakMb } = await against('send-loop');
  assert.is.not(run.code, 0);
  assert.match(run.stderr, /PROTOCOL/, run.stderr);
  assert.match(run.stderr, /twice/);
  assert.ok(ms < 12_000, `took ${ms} ms`);
  assert.ok(peakMb < RSS_BOUND_MB, `client peak RSS ${peakMb} MB`);
});

for (const mode of ['error-line', 'error-frame']) {
  Hostile(`${mode}: a host's error reaches the terminal escaped, and cannot claim a code only herd can know`, async () => {
    const { run, ms } = await against(mode);
    assert.is(run.code, 255);
    assert.not.match(run.stderr, /\u001b/, 'no raw escape character');
    assert.match(run.stderr, /\\e\[2J/, 'shown escaped');
    assert.not.match(run.stderr, /\[(HOST_KEY_MISMATCH|SSH_AUTH)\]/, 'not tagged as herd\'s own verdict');
    assert.match(run.stderr, /the peer reported "(HOST_KEY_MISMATCH|SSH_AUTH)"/);
    assert.ok(ms < 12_000, `took ${ms} ms`);
  });
}

Hostile('--output-dir never writes through a planted symlink, and replaces what was there', async () => {
  // A local run: the client side is the same whichever host answers.
  const dir = join(scratch, 'out');
  const victim = join(scratch, 'victim');
  writeFileSync(victim, 'precious\n', { mode: 0o644 });
  mkdirSync(dir, { mode: 0o777 });
  chmodSync(dir, 0o777);
  symlinkSync(victim, join(dir, 'local.stdout'));
  writeFileSync(join(dir, 'local.stderr'), 'old\n');
  const home = join(scratch, 'local-home');
  mkdirSync(join(home, '.config', 'herd'), { recursive: true });
  writeFileSync(join(home, '.config', 'herd', 'config.yml'), 'defaults:\n  network: none\n');
  const r = await herd(['run', '--output-dir', dir, '--', 'echo', 'fresh'], { home, env: { HERD_STATE_DIR: join(home, 'state') } });
  stopAgents(join(home, 'state'));
  assert.is(r.code, 0, r.stderr);
  assert.is(readFileSync(victim, 'utf8'), 'precious\n', 'the link\'s target is untouched');
  assert.ok(!lstatSync(join(dir, 'local.stdout')).isSymbolicLink());
  assert.is(readFileSync(join(dir, 'local.stdout'), 'utf8'), 'fresh\n');
  assert.is(readFileSync(join(dir, 'local.stderr'), 'utf8'), '', 'replaced, not appended to');
});

/** The admin identity the testbed's client made, and a user certificate from the same CA. */
let ca: KeyPair;
let userConfig = '';
const caId = (): string => keyId(ca.publicKey);

async function identities(): Promise<void> {
  if (userConfig !== '') return;
  const state = join(scratch, 'identity-state');
  const made = await herd(['run', '--network', 'none', '--', 'true'], { home: bed.home, env: { HERD_STATE_DIR: state } });
  stopAgents(state);
  assert.is(made.code, 0, made.stderr);
  const config = parse(readFileSync(join(bed.home, '.config', 'herd', 'config.yml'), 'utf8')) as { identity: { ca: { publicKey: string; secretKey: string } } };
  ca = { publicKey: fromBase64Url(config.identity.ca.publicKey), secretKey: fromBase64Url(config.identity.ca.secretKey) };
  userConfig = join(scratch, 'user.yml');
  const issued = await herd(['cert', 'issue', 'uma', '--role', 'user', '--out', userConfig], { home: bed.home });
  assert.is(issued.code, 0, issued.stderr);
}

/** A host that speaks herd's protocol as told (fixtures/hostile/host.ts, mode hello); what it received, by message. */
async function helloHost(spec: Record<string, unknown>, flags: string[], argv: string[] = ['echo', 'marker-argv']): Promise<{ run: HerdRun; received: Array<{ t: string }>; raw: string }> {
  const log = join(scratch, `received-${Date.now()}.jsonl`);
  writeFileSync(log, '');
  writeFileSync(modeFile, JSON.stringify({ mode: 'hello', log, ...spec }));
  const run = await herd(['run', '--handshake-timeout', '3s', '-e', 'SECRET=marker-env', ...flags, '-H', target, '--', ...argv], { home: bed.home, timeoutMs: 40_000 });
  const raw = readFileSync(log, 'utf8');
  return { run, received: raw.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { t: string }), raw };
}

/** A host key with a certificate from our CA naming `subject`. */
function certified(subject: string): { hostSecret: string; hostCert: string } {
  const key = generateKeyPair();
  return { hostSecret: toBase64Url(key.secretKey), hostCert: issueCert(ca, { subject, role: 'host', publicKey: key.publicKey, now: Math.floor(Date.now() / 1000), ttlSeconds: 3600 }) };
}

Hostile('identity: a user sends nothing to a host that trusts no CA (only an admin enrols)', async () => {
  await identities();
  const { run, received } = await helloHost({ hostCert: null, trustedCa: null, welcome: true }, ['--config', userConfig]);
  assert.is(run.code, 255);
  assert.match(run.stderr, /\[PERMISSION_DENIED\]/, run.stderr);
  assert.equal(received, [], 'not even its certificate');
});

Hostile('identity: neither a user nor an admin sends anything to a host that names our CA but shows no host certificate', async () => {
  await identities();
  for (const config of [['--config', userConfig], []]) {
    const { run, received } = await helloHost({ hostCert: null, trustedCa: caId(), caKey: toBase64Url(ca.publicKey), welcome: true }, config);
    assert.is(run.code, 255);
    assert.match(run.stderr, /shows no host certificate.*\[CERT_UNTRUSTED\]/, run.stderr);
    assert.equal(received, [], `${config.length === 0 ? 'admin' : 'user'}: nothing sent, nothing signed`);
  }
});

Hostile('identity: a host of the fleet answering for another (its certificate names another host) gets nothing', async () => {
  await identities();
  for (const config of [[], ['--config', userConfig]]) {
    const { run, received } = await helloHost({ ...certified('10.99.0.7'), trustedCa: caId(), caKey: toBase64Url(ca.publicKey), welcome: true }, config);
    assert.is(run.code, 255);
    assert.match(run.stderr, /certificate is for "10\.99\.0\.7".*\[CERT_UNTRUSTED\]/, run.stderr);
    assert.equal(received, [], `${config.length === 0 ? 'admin' : 'user'}: nothing sent`);
  }
});

Hostile('identity: nothing of a job (argv, -e values) leaves before the host\'s welcome is verified', async () => {
  await identities();
  const { run, received, raw } = await helloHost({ ...certified(bed.hosts[0]!.address), trustedCa: caId(), welcome: false }, ['--config', userConfig]);
  assert.match(run.stderr, /\[HOST_UNRESPONSIVE\]/, run.stderr);
  assert.equal(received.map((m) => m.t), ['auth'], 'our proof, and nothing else');
  assert.not.match(raw, /marker/);
});

Hostile('identity: an admin enrolling a host records what it signed, and does not take the socket path the host names', async () => {
  await identities();
  const enrolments = join(bed.home, '.config', 'herd', 'config.issued.jsonl');
  rmSync(enrolments, { force: true });
  const socket = '/tmp/hostile-choice/agent-0000.sock';
  const { run, received } = await helloHost({ hostCert: null, trustedCa: null, welcome: true, socket }, []);
  assert.is(run.code, 255, 'the hostile host runs nothing');
  assert.equal(received.map((m) => m.t), ['auth', 'run'], 'the job went out after the welcome');
  const auth = received[0] as { t: string; hostCert?: string };
  assert.ok(auth.hostCert !== undefined, 'an enrolment: the host certificate was signed');
  const record = readFileSync(enrolments, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { subject: string; publicKey: string; role: string; serial: string });
  assert.is(record.length, 1);
  assert.is(record[0]!.subject, bed.hosts[0]!.address, 'signed for the address dialled');
  assert.is(record[0]!.role, 'host');
  assert.is(record[0]!.publicKey, parseCert(auth.hostCert!).body.publicKey);
  assert.is(record[0]!.serial, parseCert(auth.hostCert!).body.serial);
  const agents = join(bed.home, '.cache', 'herd', 'agents.json');
  assert.not.match(existsSync(agents) ? readFileSync(agents, 'utf8') : '', 'hostile-choice', 'the named socket is not remembered');
});

/** `herd audit ARGS` against a certified host speaking herd's protocol, answering audit-read as `audit` says. */
async function auditHost(audit: string, args: string[], extra: Record<string, unknown> = {}): Promise<Against & { hostKeyId: string }> {
  await identities();
  const log = join(scratch, `received-${Date.now()}.jsonl`);
  const identity = certified(bed.hosts[0]!.address);
  writeFileSync(modeFile, JSON.stringify({ mode: 'hello', log, ...identity, trustedCa: caId(), caKey: toBase64Url(ca.publicKey), welcome: true, audit, ...extra }));
  let peak: { peakMb(): number } | undefined;
  const started = Date.now();
  const run = await herd(['audit', ...args, '--handshake-timeout', '5s', '-H', target], { home: bed.home, timeoutMs: 60_000, onStart: (child) => void (peak = watchPeak(child)) });
  const hostKeyId = keyId(fromBase64Url(parseCert(identity.hostCert).body.publicKey));
  return { run, ms: Date.now() - started, peakMb: peak?.peakMb() ?? 0, hostKeyId };
}

Hostile('audit verify: 128 MiB of newlines stops at the first problems, at once, in bounded memory (it took 750 s of CPU)', async () => {
  const { run, ms, peakMb } = await auditHost('newlines', ['verify', '--json']);
  assert.is(run.code, 1, run.stderr);
  const host = run.json<{ hosts: Array<{ ok: boolean; stoppedEarly: boolean; problems: unknown[] }> }>().hosts[0]!;
  assert.equal([host.ok, host.stoppedEarly, host.problems.length], [false, true, 20]);
  assert.ok(ms < 15_000, `took ${ms} ms`);
  assert.ok(peakMb < RSS_BOUND_MB, `client peak RSS ${peakMb} MB`);
});

Hostile('audit: newlines for lines is a PROTOCOL error at the first, and a line without end costs no memory', async () => {
  const flood = await auditHost('newlines', []);
  assert.is(flood.run.code, 255);
  assert.match(flood.run.stderr, /not an audit line.*\[PROTOCOL\]/, flood.run.stderr);
  assert.ok(flood.ms < 15_000, `took ${flood.ms} ms`);
  const endless = await auditHost('endless-line', ['verify', '--json']);
  assert.is(endless.run.code, 1, endless.run.stderr);
  const host = endless.run.json<{ hosts: Array<{ problems: Array<{ what: string }> }> }>().hosts[0]!;
  assert.equal(host.problems.map((p) => p.what), ['not an audit line (edited or damaged)', 'the last line is cut short']);
  assert.ok(endless.peakMb < RSS_BOUND_MB, `client peak RSS ${endless.peakMb} MB for 128 MiB without a newline`);
  const shown = await auditHost('endless-line', []);
  assert.match(shown.run.stderr, /a line over 65536 bytes.*\[PROTOCOL\]/, shown.run.stderr);
});

Hostile('audit: a subject of terminal escapes is shown escaped; the anchor is kept under the key the host proved, not the id it names', async () => {
  const anchors = join(bed.home, '.cache', 'herd', 'audit-anchors.json');
  rmSync(anchors, { force: true });
  const { run } = await auditHost('escapes', [], { claimHostId: 'victim-host-id' });
  assert.is(run.code, 0, run.stderr);
  assert.not.ok(run.text.includes('\u001b'), JSON.stringify(run.text));
  assert.match(run.text, /\\e\]0;pwned\\a\\e\[2Jmallory/);
  const verified = await auditHost('escapes', ['verify'], { claimHostId: 'victim-host-id' });
  assert.is(verified.run.code, 0, verified.run.text + verified.run.stderr);
  const kept = Object.keys(JSON.parse(readFileSync(anchors, 'utf8')) as Record<string, unknown>);
  assert.equal(kept, [verified.hostKeyId], 'by the proved key');
});

Hostile('--connect-timeout holds for both transports against a server that sends its banner and stalls', async () => {
  const held = new Set<Socket>();
  const stall = createServer((socket) => {
    held.add(socket);
    socket.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n');
    socket.on('data', () => {});
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => stall.listen(0, '127.0.0.1', resolve));
  const port = (stall.address() as AddressInfo).port;
  try {
    for (const transport of ['ssh2', 'openssh']) {
      const started = Date.now();
      const r = await herd(['run', '--transport', transport, '--connect-timeout', '3s', '--handshake-timeout', '2s', '-H', `root@127.0.0.1:${port}`, '--', 'true'], { home: bed.home, timeoutMs: 40_000 });
      const ms = Date.now() - started;
      assert.is(r.code, 254, `${transport}: unreachable, not a failed job: ${r.stderr}`);
      assert.match(r.stderr, /\[(HOST_UNREACHABLE|HOST_UNRESPONSIVE)\]/, `${transport}: ${r.stderr}`);
      assert.ok(ms < 9000, `${transport}: took ${ms} ms with --connect-timeout 3s`);
    }
  } finally {
    // Whatever a client left connected must not keep this test process alive.
    for (const socket of held) socket.destroy();
    stall.close();
  }
});

Hostile('SIGTERM before any job has started exits at once, and says so', async () => {
  const { run, ms } = await against('silent', [], (child) => void sleep(1500).then(() => child.kill('SIGTERM')));
  assert.is(run.code, 143, run.stderr);
  assert.match(run.stderr, /interrupted before any job started/);
  assert.ok(ms < 5000, `took ${ms} ms (the default handshake deadline is 30 s)`);
});

Hostile('a second Ctrl-C exits at once', async () => {
  const { run, ms } = await against('silent', [], (child) => {
    void sleep(1500).then(() => child.kill('SIGINT')).then(() => sleep(300)).then(() => child.kill('SIGINT'));
  });
  assert.ok(run.code === 130, `exit ${run.code}: ${run.stderr}`);
  assert.ok(ms < 5000, `took ${ms} ms`);
});

if (enabled) Hostile.run();
