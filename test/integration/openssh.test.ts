import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { stringify } from 'yaml';
import { up, type Testbed, type TestHost } from '../../fixtures/testbed/testbed.ts';
import { gate, herd, homeFrom, loud, sleep } from './harness.ts';

/*
 * --transport openssh: the system ssh binary on the testbed. The suite's HOME is not root's passwd
 * home, so herd must hand ssh the HOME's config, keys and known_hosts itself, as ssh2 would use them.
 */
const OpenSsh = suite('--transport openssh');
const enabled = gate('openssh.test.ts', { root: true, commands: ['ip', 'nsenter', 'nft', 'ssh', 'ssh-keygen', '/usr/sbin/sshd'] });
let bed: Testbed;
const host = (i: number): TestHost => bed.hosts[i - 1]!;

OpenSsh.before(loud(async () => {
  // h3 forbids stream-local forwarding: herd must go through the bootstrap there every time.
  // h3 also listens on port 2222, for known_hosts entries of the [host]:port form.
  // VERBOSE: sshd logs each session it starts (the bulk-output test counts them).
  bed = await up(3, { sshdOptions: (n) => ['LogLevel=VERBOSE', ...(n === 3 ? ['AllowStreamLocalForwarding=no', 'Port=22', 'Port=2222'] : [])] });
  const hosts = Object.fromEntries(bed.hosts.map((h) => [h.name, { address: h.address, user: 'root' }]));
  mkdirSync(join(bed.home, '.config', 'herd'), { recursive: true });
  writeFileSync(join(bed.home, '.config', 'herd', 'config.yml'), stringify({ hosts }));
}));

OpenSsh.after(() => bed?.down());

const homeWith = (prefix: string, pieces: ReadonlyArray<'key' | 'known_hosts' | 'config'>) => homeFrom(bed.home, prefix, pieces);

/** ssh processes on this machine whose arguments name `text` (a test's HOME): the ones herd started for it. */
function sshProcessesFor(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0] === 'ssh' && argv.some((a) => a.includes(text))) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function noSshLeftFor(home: string): Promise<void> {
  for (let i = 0; i < 30 && sshProcessesFor(home).length > 0; i++) await sleep(100);
  assert.equal(sshProcessesFor(home), [], 'every ssh process herd started has ended');
}

type RunDoc = { hosts: Array<{ stdout: string; shippedHelper: boolean; connection: { direct: boolean } }> };

OpenSsh('first contact through the bootstrap, the next straight to the agent socket; output, stdin and status exact', async () => {
  const home = bed.home;
  const first = await herd(['run', '--transport', 'openssh', '-H', 'h1', '--json', '--', 'echo', 'first'], { home });
  assert.is(first.code, 0, first.stderr);
  const a = first.json<RunDoc>().hosts[0]!;
  assert.equal([a.stdout, a.shippedHelper, a.connection.direct], ['first\n', true, false]);
  const second = await herd(['run', '--transport', 'openssh', '-H', 'h1', '--json', '--', 'echo', 'second'], { home });
  const b = second.json<RunDoc>().hosts[0]!;
  assert.equal([b.stdout, b.shippedHelper, b.connection.direct], ['second\n', false, true], 'the agent is reached through ssh -L');
  const exact = await herd(['run', '--transport', 'openssh', '-H', 'h1', '--', 'sh', '-c', "cat; printf '\\0\\377'; printf e >&2; exit 9"], { home, stdin: 'from stdin\n' });
  assert.is(exact.code, 9);
  assert.equal([...exact.stdout], [...Buffer.from('from stdin\n\0\xff', 'latin1')]);
  assert.is(exact.stderr, 'e');
  await noSshLeftFor(home);
});

OpenSsh('bulk output through ssh -L: one `true` in a session on the forwarder\'s connection (sshd turns Nagle off then), none for a short run', async () => {
  const home = bed.home;
  const sessions = (): number => bed.sshdLog(host(1)).split('\n').filter((l) => l.includes('Starting session: command')).length;
  assert.is((await herd(['run', '--transport', 'openssh', '-H', 'h1', '--', 'true'], { home })).code, 0);
  const before = sessions();
  const short = await herd(['run', '--transport', 'openssh', '-H', 'h1', '--json', '--', 'echo', 'hi'], { home });
  assert.equal(short.json<RunDoc>().hosts.map((h) => [h.stdout, h.connection.direct]), [['hi\n', true]]);
  await sleep(300);
  assert.is(sessions(), before, 'a short run over the forwarded socket started no session');
  const runtime = mkdtempSync(join(tmpdir(), 'herd-rt-'));
  const bulk = await herd(['run', '--transport', 'openssh', '-H', 'h1', '--', 'sh', '-c', `head -c ${4 << 20} /dev/zero | tr '\\0' b`], { home, env: { XDG_RUNTIME_DIR: runtime } });
  assert.is(bulk.code, 0, bulk.stderr);
  assert.is(bulk.stdout.length, 4 << 20);
  assert.ok(bulk.stdout.every((b) => b === 0x62), 'the bytes are the job\'s');
  for (let i = 0; i < 30 && sessions() < before + 1; i++) await sleep(100);
  assert.is(sessions(), before + 1, 'one session for the bulk run');
  await noSshLeftFor(home);
  assert.equal(readdirSync(join(runtime, 'herd')).filter((f) => f.startsWith('fwd-')), [], 'no forward or control socket left');
  rmSync(runtime, { recursive: true, force: true });
});

OpenSsh('a host without stream-local forwarding is reached through the bootstrap every time', async () => {
  const home = bed.home;
  for (const word of ['one', 'two']) {
    const r = await herd(['run', '--transport', 'openssh', '-H', 'h3', '--json', '--', 'echo', word], { home });
    assert.is(r.code, 0, r.stderr);
    const doc = r.json<RunDoc>().hosts[0]!;
    assert.equal([doc.stdout, doc.connection.direct], [`${word}\n`, false]);
  }
  await noSshLeftFor(home);
});

OpenSsh('ProxyCommand (which ssh2 lacks) reaches a host this machine cannot; defaults.transport in the config', async () => {
  // h2 refuses SSH from this machine (the testbed bridge's address) and takes it from h1.
  const here = host(2).address.replace(/\.\d+$/, '.1');
  const inH2 = (args: string[]): string => execFileSync('nsenter', [`--net=/run/netns/${host(2).netns}`, 'nft', ...args], { encoding: 'utf8' });
  inH2(['add', 'table', 'inet', 'herdtest']);
  const box = homeWith('proxycommand', ['key', 'known_hosts']);
  try {
    inH2(['add', 'chain', 'inet', 'herdtest', 'input', '{ type filter hook input priority 0; }']);
    inH2(['add', 'rule', 'inet', 'herdtest', 'input', 'ip', 'saddr', here, 'tcp', 'dport', '22', 'reject', 'with', 'tcp', 'reset']);
    const hop = `ssh -F none -i ${join(box.home, '.ssh', 'id_ed25519')} -o UserKnownHostsFile=${join(box.home, '.ssh', 'known_hosts')} -o BatchMode=yes -W %h:%p root@${host(1).address}`;
    writeFileSync(join(box.home, '.ssh', 'config'), ['Host hidden', `  HostName ${host(2).address}`, '  User root', `  ProxyCommand ${hop}`, ''].join('\n'));
    mkdirSync(join(box.home, '.config', 'herd'), { recursive: true });
    writeFileSync(join(box.home, '.config', 'herd', 'config.yml'), stringify({ defaults: { transport: 'openssh' } }));
    const through = await herd(['run', '-H', 'hidden', '--', 'echo', 'via-proxycommand'], { home: box.home });
    assert.is(through.code, 0, through.stderr);
    assert.is(through.text, 'via-proxycommand\n');
    const ssh2 = await herd(['run', '--transport', 'ssh2', '-H', 'hidden', '--', 'true'], { home: box.home });
    assert.is(ssh2.code, 254, 'ssh2 ignores ProxyCommand, and h2 refuses this machine');
    const bad = await herd(['run', '--transport', 'telnet', '-H', 'hidden', '--', 'true'], { home: box.home });
    assert.is(bad.code, 2);
    assert.match(bad.stderr, /--transport: "telnet" is not one of ssh2, openssh/);
    await noSshLeftFor(box.home);
  } finally {
    box.remove();
    inH2(['delete', 'table', 'inet', 'herdtest']);
  }
});

OpenSsh('ssh\'s failures become herd\'s codes: unknown host (then --accept-new), no key, closed port', async () => {
  const box = homeWith('openssh-errors', ['key', 'config']);
  const bare = homeWith('openssh-nokey', ['known_hosts']);
  try {
    const target = `root@${host(3).address}`;
    const unknown = await herd(['run', '--transport', 'openssh', '-H', target, '--', 'true'], { home: box.home });
    assert.is(unknown.code, 255);
    assert.match(unknown.stderr, /is not a known host.*\[HOST_KEY_UNKNOWN\].*--accept-new/);
    const accepted = await herd(['run', '--transport', 'openssh', '-H', target, '--accept-new', '--', 'echo', 'in'], { home: box.home });
    assert.is(accepted.text, 'in\n', accepted.stderr);
    assert.match(readFileSync(join(box.home, '.ssh', 'known_hosts'), 'utf8'), `${host(3).address} ssh-ed25519 `);
    const auth = await herd(['run', '--transport', 'openssh', '-H', `root@${host(1).address}`, '--', 'true'], { home: bare.home });
    assert.is(auth.code, 255);
    assert.match(auth.stderr, /authentication failed for root@.*\[SSH_AUTH\]/);
    const closed = await herd(['run', '--transport', 'openssh', '-H', `root@${host(1).address}:2`, '--', 'true'], { home: bare.home });
    assert.is(closed.code, 254);
    assert.match(closed.stderr, /cannot reach .*Connection refused.*\[HOST_UNREACHABLE\]/);
  } finally {
    box.remove();
    bare.remove();
  }
});

OpenSsh('known_hosts hashed by ssh-keygen -H, with a [host]:port entry: both transports accept them; the port\'s own entry decides over the host\'s', async () => {
  const box = homeWith('hashed', ['key', 'config']);
  try {
    const knownHosts = join(box.home, '.ssh', 'known_hosts');
    // h3: enrolled by this suite's CA (h2 was enrolled by the ProxyCommand test's own).
    const h3 = bed.knownHostsLine(host(3));
    writeFileSync(knownHosts, `${bed.knownHostsLine(host(1))}\n${h3.replace(host(3).address, `[${host(3).address}]:2222`)}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', knownHosts]);
    const hashed = readFileSync(knownHosts, 'utf8');
    assert.not.match(hashed, host(1).address, 'no address left in clear');
    assert.is(hashed.split('\n').filter((l) => l.startsWith('|1|')).length, 2);
    for (const transport of ['ssh2', 'openssh']) {
      const r = await herd(['run', '--transport', transport, '-H', `h1,root@${host(3).address}:2222`, '--', 'echo', transport], { home: box.home });
      assert.is(r.code, 0, `${transport}: ${r.stderr}`);
      assert.equal(r.text.trim().split('\n').sort(), [`h1: ${transport}`, `root@${host(3).address}:2222: ${transport}`]);
    }
    // As OpenSSH: with no [host]:2222 entry the host's plain entry counts; a [host]:2222 entry, when present, decides.
    writeFileSync(knownHosts, `${h3}\n`);
    for (const transport of ['ssh2', 'openssh']) {
      const plain = await herd(['run', '--transport', transport, '-H', `root@${host(3).address}:2222`, '--', 'true'], { home: box.home });
      assert.is(plain.code, 0, `${transport}: ${plain.stderr}`);
    }
    const stranger = bed.knownHostsLine(host(1)).split(' ').slice(1).join(' ');
    writeFileSync(knownHosts, `[${host(3).address}]:2222 ${stranger}\n${h3}\n`);
    for (const transport of ['ssh2', 'openssh']) {
      const changed = await herd(['run', '--transport', transport, '-H', `root@${host(3).address}:2222`, '--', 'true'], { home: box.home });
      assert.is(changed.code, 255, transport);
      assert.match(changed.stderr, '[HOST_KEY_MISMATCH]');
    }
  } finally {
    box.remove();
  }
});

OpenSsh('job commands work over it: detach, wait, logs', async () => {
  const home = bed.home;
  const started = await herd(['run', '--transport', 'openssh', '-H', 'h1', '--detach', '--json', '--', 'sh', '-c', 'echo out; exit 3'], { home });
  assert.is(started.code, 0, started.stderr);
  const id = started.json<{ hosts: Array<{ jobId: string }> }>().hosts[0]!.jobId;
  const waited = await herd(['job', 'wait', '--transport', 'openssh', '-H', 'h1', id], { home });
  assert.is(waited.code, 3, waited.stderr);
  const logs = await herd(['job', 'logs', '--transport', 'openssh', '-H', 'h1', id], { home });
  assert.is(logs.text, 'out\n', logs.stderr);
  await noSshLeftFor(home);
});

if (enabled) OpenSsh.run();
