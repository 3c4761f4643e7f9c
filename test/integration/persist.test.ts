import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { stringify } from 'yaml';
import { up, type Testbed, type TestHost } from '../../fixtures/testbed/testbed.ts';
import { endPersistDaemon, gate, herd, loud, persistDaemonPid, sleep, type HerdOptions } from './harness.ts';

/*
 * --persist: a per-user background process keeps the SSH connections, so repeated herd commands pay
 * the handshake once per host. Proof on the host's side: one sshd session serves every run.
 * Each test has its own XDG_RUNTIME_DIR, so its daemon is its own (and ended by its pid).
 */
const Persist = suite('--persist connection reuse');
const enabled = gate('persist.test.ts', { root: true, commands: ['ip', 'ssh', 'ssh-keygen', '/usr/sbin/sshd'] });
let bed: Testbed;
const host = (i: number): TestHost => bed.hosts[i - 1]!;

Persist.before(loud(async () => {
  bed = await up(2);
  const hosts = Object.fromEntries(bed.hosts.map((h) => [h.name, { address: h.address, user: 'root' }]));
  mkdirSync(join(bed.home, '.config', 'herd'), { recursive: true });
  writeFileSync(join(bed.home, '.config', 'herd', 'config.yml'), stringify({ hosts }));
}));

Persist.after(() => bed?.down());

/** A private runtime directory: where the daemon's socket and pid file go. */
function runtime(): { options: HerdOptions; dir: string; daemonPid(): number | null; end(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'herd-rt-'));
  const daemonPid = (): number | null => persistDaemonPid(dir);
  return {
    options: { home: bed.home, env: { XDG_RUNTIME_DIR: dir }, timeoutMs: 30_000 },
    dir,
    daemonPid,
    end: async () => {
      // ControlMaster processes of the openssh test are ours too: they name this directory.
      for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
        try {
          const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
          if (argv.startsWith('ssh\0') && argv.includes(dir)) process.kill(Number(entry), 'SIGTERM');
        } catch {
          // gone meanwhile
        }
      }
      await endPersistDaemon(dir);
    },
  };
}

/** The sshd processes serving connections on a host, one per connection (the listener excluded). */
const sshdSessions = (h: TestHost): number[] =>
  bed
    .processes(h)
    .filter((p) => p.argv[0]?.startsWith('sshd:') === true && !p.argv.join(' ').includes('[listener]'))
    .map((p) => p.pid)
    .sort();

async function settled(h: TestHost, expected: number): Promise<number[]> {
  for (let i = 0; i < 30 && sshdSessions(h).length !== expected; i++) await sleep(100);
  return sshdSessions(h);
}

type RunDoc = { hosts: Array<{ host: string; stdout: string; connection: { direct: boolean; reused: boolean } }> };

Persist('five runs on two hosts: one SSH connection per host, kept by one daemon; persist status and stop', async () => {
  const rt = runtime();
  try {
    const before = [sshdSessions(host(1)).length, sshdSessions(host(2)).length];
    const first = await herd(['run', '--persist', '1m', '-H', 'h1,h2', '--json', '--', 'hostname'], rt.options);
    assert.is(first.code, 0, first.stderr);
    assert.equal(first.json<RunDoc>().hosts.map((h) => h.connection.reused), [false, false]);
    const daemon = rt.daemonPid();
    assert.ok(daemon !== null, 'the daemon runs');
    const log = readFileSync(join(rt.dir, 'herd', 'persist-v2.log'), 'utf8');
    assert.equal(log.split('\n').filter((l) => l.endsWith(': starting')).length, 1, `the hosts of one run started one daemon between them:\n${log}`);
    const kept = [await settled(host(1), before[0]! + 1), await settled(host(2), before[1]! + 1)];
    assert.equal(kept.map((s) => s.length), [before[0]! + 1, before[1]! + 1], 'one more connection (its sshd process) on each host');
    for (let i = 0; i < 4; i++) {
      const again = await herd(['run', '--persist', '1m', '-H', 'h1,h2', '--json', '--', 'echo', `run-${i}`], rt.options);
      assert.is(again.code, 0, again.stderr);
      const doc = again.json<RunDoc>();
      assert.equal(doc.hosts.map((h) => [h.stdout, h.connection.reused]), [[`run-${i}\n`, true], [`run-${i}\n`, true]]);
    }
    assert.equal([sshdSessions(host(1)), sshdSessions(host(2))], kept, 'the same sshd sessions served every run: no new handshake');
    assert.is(rt.daemonPid(), daemon, 'the same daemon');
    const status = await herd(['persist', 'status', '--json'], rt.options);
    assert.equal(status.json(), { schema: 'herd.persist-status/1', running: true, pid: daemon, socket: join(rt.dir, 'herd', 'persist-v2.sock'), log: join(rt.dir, 'herd', 'persist-v2.log') });
    // Job commands use it too.
    const list = await herd(['job', 'list', '--persist', '1m', '-H', 'h1', '--json'], rt.options);
    assert.is(list.code, 0, list.stderr);
    assert.equal(sshdSessions(host(1)), kept[0]);
    const stopped = await herd(['persist', 'stop'], rt.options);
    assert.match(stopped.text, `stopped pid ${daemon}`);
    assert.is(rt.daemonPid(), null);
    assert.is((await settled(host(1), before[0]!)).length, before[0], 'its connections closed with it');
    const without = await herd(['run', '-H', 'h1', '--json', '--', 'true'], rt.options);
    assert.is(without.json<RunDoc>().hosts[0]!.connection.reused, false);
    assert.is(rt.daemonPid(), null, 'without --persist no daemon starts');
  } finally {
    await rt.end();
  }
});

Persist('a revoked certificate is refused on its next run through a kept connection', async () => {
  const rt = runtime();
  try {
    const hosts = Object.fromEntries(bed.hosts.map((h) => [h.name, { address: h.address, user: 'root' }]));
    const rex = join(bed.home, 'rex.yml');
    assert.is((await herd(['cert', 'issue', 'rex', '--out', rex], rt.options)).code, 0);
    writeFileSync(rex, `${readFileSync(rex, 'utf8')}${stringify({ hosts })}`);
    const before = await herd(['run', '--config', rex, '--persist', '1m', '-H', 'h1,h2', '--json', '--', 'true'], rt.options);
    assert.is(before.code, 0, before.stderr);
    const warm = await herd(['run', '--config', rex, '--persist', '1m', '-H', 'h1,h2', '--json', '--', 'true'], rt.options);
    assert.equal(warm.json<RunDoc>().hosts.map((h) => h.connection.reused), [true, true]);
    const daemon = rt.daemonPid();
    const sessions = [sshdSessions(host(1)), sshdSessions(host(2))];
    assert.is((await herd(['cert', 'revoke', 'rex'], rt.options)).code, 0);
    assert.is((await herd(['host', 'sync', '-H', 'h1,h2', '--persist', '1m'], rt.options)).code, 0);
    const refused = await herd(['run', '--config', rex, '--persist', '1m', '-H', 'h1,h2', '--json', '--', 'true'], rt.options);
    assert.is(refused.code, 255);
    const doc = refused.json<{ hosts: Array<{ connection: { reused: boolean } | null; error: { code: string } | null }> }>();
    assert.equal(doc.hosts.map((h) => h.error?.code), ['CERT_REVOKED', 'CERT_REVOKED'], refused.stderr);
    assert.is(rt.daemonPid(), daemon, 'the same daemon');
    assert.equal([sshdSessions(host(1)), sshdSessions(host(2))], sessions, 'over the same SSH connections: the host checks each handshake, not each connection');
  } finally {
    await rt.end();
  }
});

Persist('garbage on the daemon\'s socket gets a PROTOCOL answer and leaves it serving', async () => {
  const rt = runtime();
  try {
    assert.is((await herd(['run', '--persist', '1m', '-H', 'h1', '--', 'true'], rt.options)).code, 0);
    const pid = rt.daemonPid();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(join(rt.dir, 'herd', 'persist-v2.sock'));
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.once('close', () => resolve(text));
      socket.once('error', reject);
      socket.write('this is not a request\n');
    });
    assert.match(answer, '"code":"PROTOCOL"');
    assert.is(rt.daemonPid(), pid, 'still running');
    const after = await herd(['run', '--persist', '1m', '-H', 'h1', '--json', '--', 'echo', 'still'], rt.options);
    assert.equal(after.json<RunDoc>().hosts.map((h) => [h.stdout, h.connection.reused]), [['still\n', true]]);
  } finally {
    await rt.end();
  }
});

Persist('the daemon serves only a client that proves it can read the daemon\'s key', async () => {
  const rt = runtime();
  try {
    assert.is((await herd(['run', '--persist', '1m', '-H', 'h1', '--', 'true'], rt.options)).code, 0);
    const lines = await new Promise<string[]>((resolve, reject) => {
      const socket = connect(join(rt.dir, 'herd', 'persist-v2.sock'));
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString();
        // Once challenged, answer with a well-formed request whose proof is made up.
        if (text.split('\n').length === 2) {
          const request = { v: 2, auth: 'AAAA', target: { kind: 'ssh', name: 'h1', address: host(1).address, port: 22, user: 'root' }, jumps: {}, acceptNew: false, connectTimeoutMs: 5000, persistMs: 60000, open: { kind: 'exec', command: 'id' } };
          socket.write(`${JSON.stringify(request)}\n`);
        }
      });
      socket.once('close', () => resolve(text.trim().split('\n')));
      socket.once('error', reject);
      socket.write(`${JSON.stringify({ v: 2, nonce: 'n' })}\n`);
    });
    assert.match(lines[0]!, /"proof":/, 'challenged first');
    assert.match(lines[1]!, '"code":"PERMISSION_DENIED"');
  } finally {
    await rt.end();
  }
});

Persist('another local user cannot take the session: a runtime directory they could swap is refused, even while they race it', async () => {
  // The victim: an unprivileged user with the testbed's key and identity, whose XDG_RUNTIME_DIR is a
  // directory others may write (0777, not sticky). The attacker (nobody) swaps a link there in a
  // loop between a private directory of the victim's (which passes a check that follows links) and
  // its own, where a fake daemon logs anyone who dials it.
  const victim = 40_000 + (process.pid % 1000);
  const root = mkdtempSync(join(tmpdir(), 'herd-race-'));
  chmodSync(root, 0o755);
  const home = join(root, 'home');
  const shared = join(root, 'shared');
  const decoy = join(root, 'decoy');
  const evil = join(root, 'evil');
  for (const [dir, mode, owner] of [[home, 0o700, victim], [shared, 0o777, 0], [decoy, 0o700, victim], [evil, 0o755, 65534]] as const) {
    mkdirSync(dir);
    chmodSync(dir, mode);
    chownSync(dir, owner, owner);
  }
  cpSync(bed.home, home, { recursive: true });
  execFileSync('chown', ['-R', `${victim}:${victim}`, home]);
  const caught = join(evil, 'caught.log');
  const fake = spawn(process.execPath, ['-e', `
    const net = require('net'), fs = require('fs');
    for (const name of ['persist-v1.sock', 'persist-v2.sock']) {
      net.createServer((s) => { fs.appendFileSync(${JSON.stringify(caught)}, 'dialled ' + name + '\\n'); s.on('data', (d) => fs.appendFileSync(${JSON.stringify(caught)}, d)); }).listen(${JSON.stringify(evil)} + '/' + name);
    }`], { uid: 65534, gid: 65534, stdio: 'ignore' });
  const swapper = spawn('sh', ['-c', `while :; do ln -sfn ${decoy} ${shared}/herd; ln -sfn ${evil} ${shared}/herd; done`], { uid: 65534, gid: 65534, stdio: 'ignore' });
  try {
    await sleep(300);
    const refusals: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await herd(['run', '--persist', '1m', '-H', 'h1', '--', 'true'], { home, env: { XDG_RUNTIME_DIR: shared }, uid: victim, timeoutMs: 30_000 });
      if (r.code !== 0) refusals.push(r.stderr);
    }
    assert.equal(existsSync(caught) ? readFileSync(caught, 'utf8') : '', '', 'the fake daemon was never dialled');
    assert.is(refusals.length, 8, 'every run refused the directory');
    assert.match(refusals[0]!, /\[STATE_UNSAFE\]/);
    assert.match(refusals[0]!, /others may write it/);
  } finally {
    swapper.kill('SIGKILL');
    fake.kill('SIGKILL');
    // A daemon the victim may have started in the decoy (the old code could) is ended by its pid file.
    for (const pidFile of ['persist-v1.pid', 'persist-v2.pid']) {
      try {
        process.kill(Number(readFileSync(join(decoy, pidFile), 'utf8').trim()), 'SIGTERM');
      } catch {
        // none
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
});

Persist('an unused daemon exits by itself after the persist time; a failure is reported, not kept', async () => {
  const rt = runtime();
  try {
    const r = await herd(['run', '--persist', '2s', '-H', 'h1', '--', 'true'], rt.options);
    assert.is(r.code, 0, r.stderr);
    const pid = rt.daemonPid();
    assert.ok(pid !== null);
    const unreachable = await herd(['run', '--persist', '2s', '-H', `root@${host(1).address}:2`, '--', 'true'], rt.options);
    assert.is(unreachable.code, 254);
    assert.match(unreachable.stderr, /\[HOST_UNREACHABLE\]/);
    for (let i = 0; i < 60 && rt.daemonPid() !== null; i++) await sleep(100);
    assert.is(rt.daemonPid(), null, 'gone within ~2 s of the last use');
  } finally {
    await rt.end();
  }
});

Persist('--transport openssh --persist uses OpenSSH\'s ControlMaster: one connection for several runs', async () => {
  const rt = runtime();
  try {
    // Earlier tests' connections to h2 are closing: start from none.
    const before = (await settled(host(2), 0)).length;
    for (const word of ['a', 'b', 'c']) {
      const r = await herd(['run', '--transport', 'openssh', '--persist', '5s', '-H', 'h2', '--', 'echo', word], rt.options);
      assert.is(r.code, 0, r.stderr);
      assert.is(r.text, `${word}\n`);
    }
    // The master holds one connection; each run's own session ended with it.
    assert.is((await settled(host(2), before + 1)).length, before + 1, 'one connection (its sshd process) for three runs');
    assert.ok(readdirSync(join(rt.dir, 'herd')).some((f) => f.startsWith('cm-')), 'the ControlMaster socket is in the runtime directory');
  } finally {
    await rt.end();
  }
});

if (enabled) Persist.run();
