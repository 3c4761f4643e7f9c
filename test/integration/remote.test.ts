import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse, stringify } from 'yaml';
import { up, type Testbed, type TestHost } from '../../fixtures/testbed/testbed.ts';
import { gate, herd, homeFrom, loud, sleep, testLogin } from './harness.ts';

const Remote = suite('remote runs over SSH');
const enabled = gate('remote.test.ts', { root: true, commands: ['ip', 'unshare', 'nsenter', 'ssh-keygen', '/usr/sbin/sshd'] });
let bed: Testbed;
let home: string;
const host = (i: number): TestHost => bed.hosts[i - 1]!;

Remote.before(loud(async () => {
  // h5 forbids stream-local forwarding, so herd must always go through the bootstrap there.
  bed = await up(5, { sshdOptions: (n) => (n === 5 ? ['AllowStreamLocalForwarding=no'] : []) });
  home = bed.home;
  const hosts = Object.fromEntries(bed.hosts.map((h) => [h.name, { address: h.address, user: 'root' }]));
  mkdirSync(join(home, '.config', 'herd'), { recursive: true });
  writeFileSync(join(home, '.config', 'herd', 'config.yml'), stringify({ hosts }));
}));

Remote.after(() => bed?.down());

const homeWith = (prefix: string, pieces: ReadonlyArray<'key' | 'known_hosts' | 'config'>) => homeFrom(home, prefix, pieces);

/** A helper process (relay or agent); not the shell that restarts a dying agent, which names it in its arguments. */
const isHelper = (p: { argv: string[] }): boolean => p.argv[0] !== '/bin/sh' && p.argv.some((a) => a.includes('/helper-'));

const run = (args: string[], extra: Partial<Parameters<typeof herd>[1]> = {}) => herd(args, { home, timeoutMs: 60_000, ...extra });

Remote('first contact ships the helper; the second run reuses the cached one', async () => {
  const first = await run(['run', '-H', 'h1', '--json', '--', 'sh', '-c', 'echo hello; echo oops >&2; exit 4']);
  assert.is(first.code, 4, first.stderr);
  const doc = first.json<{ hosts: Array<{ shippedHelper: boolean; stdout: string; stderr: string; connection: { direct: boolean } }> }>();
  assert.is(doc.hosts[0]!.shippedHelper, true);
  assert.is(doc.hosts[0]!.stdout, 'hello\n');
  assert.is(doc.hosts[0]!.stderr, 'oops\n');
  assert.is(doc.hosts[0]!.connection.direct, false, 'first contact goes through the bootstrap');
  const helpers = (): number[] => bed.processes(host(1)).filter(isHelper).map((p) => p.pid).sort();
  // The first contact's relay exits once its connection is closed.
  for (let i = 0; i < 30 && helpers().length > 1; i++) await sleep(100);
  const before = helpers();
  const second = await run(['run', '-H', 'h1', '--json', '--', 'true']);
  const again = second.json<{ hosts: Array<{ shippedHelper: boolean; connection: { direct: boolean } }> }>().hosts[0]!;
  assert.is(again.shippedHelper, false);
  assert.is(again.connection.direct, true, 'a warm host is reached on the agent socket, through stream-local forwarding');
  assert.equal(helpers(), before, 'no helper process was started for it: only the agent runs');
  assert.is(before.length, 1, 'the agent');
  const cached = bed.onHost(host(1), ['sh', '-c', 'ls /var/lib/herd | grep -c "^helper-"']).trim();
  assert.is(cached, '1');
});

Remote('without stream-local forwarding every run goes through the bootstrap, reusing the cached helper', async () => {
  type Doc = { hosts: Array<{ shippedHelper: boolean; stdout: string; connection: { direct: boolean } }> };
  const first = (await run(['run', '-H', 'h5', '--json', '--', 'echo', 'one'])).json<Doc>().hosts[0]!;
  const second = (await run(['run', '-H', 'h5', '--json', '--', 'echo', 'two'])).json<Doc>().hosts[0]!;
  assert.equal([first.stdout, second.stdout], ['one\n', 'two\n']);
  assert.equal([first.shippedHelper, second.shippedHelper], [true, false]);
  assert.equal([first.connection.direct, second.connection.direct], [false, false]);
  // Through the relay the host's audit log knows the SSH login and the client's address (sshd's SSH_CLIENT).
  type Audit = { hosts: Array<{ lines: Array<{ action: string; login: string | null; from: string | null; detail?: { argv?: string[] } }> }> };
  const audit = await run(['audit', '-H', 'h5', '--json']);
  assert.is(audit.code, 0, audit.stderr);
  const line = audit.json<Audit>().hosts[0]!.lines.find((l) => l.action === 'run' && l.detail?.argv?.[1] === 'two');
  assert.is(line?.login, 'root');
  assert.match(line?.from ?? '', /^10\.250\.\d+\.1:\d+$/);
});

Remote('limits hold on a testbed host too: OOM reported, pids capped, usage returned', async () => {
  const oom = await run(['run', '-H', 'h3', '--max-memory', '32M', '--', 'timeout', '20', 'tail', '/dev/zero']);
  assert.is(oom.code, 137, oom.stderr);
  assert.match(oom.stderr, /h3: job [0-9a-f]{12} ran out of memory \(--max-memory 32 MiB\)/);
  const pids = await run(['run', '-H', 'h3', '--json', '--max-pids', '30', '--', 'sh', '-c', '(i=0; while [ $i -lt 100 ]; do sleep 2 & i=$((i+1)); done) 2>/dev/null; set -- /proc/[0-9]*; echo $#']);
  const host = pids.json<{ hosts: Array<{ stdout: string; result: { usage: { cpuMs: number; peakMemoryBytes: number } } }> }>().hosts[0]!;
  assert.ok(Number(host.stdout) <= 30, `${host.stdout.trim()} processes (limit 30)`);
  assert.ok(host.result.usage.peakMemoryBytes > 0 && host.result.usage.cpuMs >= 0, 'usage comes back over SSH');
});

Remote('output and exit status come back exactly, with stdin forwarded', async () => {
  const r = await run(['run', '-H', 'h1', '--', 'sh', '-c', "cat; printf '\\0\\377'; printf e >&2; exit 9"], { stdin: 'from stdin\n' });
  assert.is(r.code, 9);
  assert.equal([...r.stdout], [...Buffer.from('from stdin\n\0\xff', 'latin1')]);
  assert.is(r.stderr, 'e');
  assert.is((await run(['run', '-H', 'h1', '--', 'sh', '-c', 'kill -KILL $$'])).code, 137);
  const missing = await run(['run', '-H', 'h1', '--', 'no-such-command-xyz']);
  assert.is(missing.code, 127);
  assert.match(missing.stderr, /h1: command not found/);
});

Remote('several hosts in parallel: prefixed lines, the largest status, a summary', async () => {
  const r = await run(['run', '-H', 'h1,h2,h3', '--', 'sh', '-c', 'echo one; echo two; case $(cat /proc/sys/kernel/hostname) in *) exit 0;; esac']);
  assert.is(r.code, 0, r.stderr);
  const lines = r.text.trim().split('\n').sort();
  assert.equal(lines, ['h1: one', 'h1: two', 'h2: one', 'h2: two', 'h3: one', 'h3: two']);
  assert.match(r.stderr, 'herd: 3 hosts: 3 ok');
  // --network host: the job sees its host's own interfaces, which tell the hosts apart.
  const mixed = await run(['run', '-H', 'h1,h2,h3', '--network', 'host', '--', 'sh', '-c', `ip -4 -o addr show eth0 | grep -q ${host(2).address} && exit 3; exit 1`]);
  assert.is(mixed.code, 3);
  assert.match(mixed.stderr, '3 hosts: 0 ok, 3 failed (exit 1: h[1,3]; exit 3: h2)', 'hosts folded by how they ended');
});

Remote('8 concurrent first contacts to one host all succeed and leave one intact helper', async () => {
  const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => run(['run', '-H', 'h4', '--', 'echo', `run-${i}`])));
  runs.forEach((r, i) => {
    assert.is(r.code, 0, r.stderr);
    assert.is(r.text, `run-${i}\n`);
  });
  const listing = bed.onHost(host(4), ['ls', '-a', '/var/lib/herd']).split('\n').filter((f) => f.includes('helper'));
  assert.is(listing.length, 1, `one cached helper, no temp files: ${listing.join(' ')}`);
  const local = readFileSync(join(import.meta.dirname ?? '.', '..', '..', 'dist', 'helper.mjs'));
  const remote = bed.onHost(host(4), ['sha256sum', `/var/lib/herd/${listing[0]}`]).split(' ')[0];
  assert.is(remote, createHash('sha256').update(local).digest('hex'));
  const agents = bed.processes(host(4)).filter((p) => isHelper(p) && p.argv.at(-1) === 'agent');
  assert.is(agents.length, 1, 'a single agent per state directory');
});

Remote('Ctrl-C reaches a remote job as SIGTERM', async () => {
  const r = await run(['run', '-H', 'h1', '--', 'sh', '-c', 'trap "echo got-term; exit 5" TERM; echo ready; sleep 30 & wait'], {
    onStart: (child) => {
      child.stdout!.once('data', () => child.kill('SIGINT'));
    },
  });
  assert.is(r.code, 130);
  assert.match(r.text, 'got-term');
});

Remote('a lost connection leaves the job running and names it', async () => {
  let severed: number[] = [];
  const r = await run(['run', '-H', 'h2', '--', 'sh', '-c', 'echo started; sleep 2; echo finished > /work/lost-job-done'], {
    onStart: (child) => {
      child.stdout!.once('data', () => {
        // Drop the SSH connection from the host's side: end the per-connection sshd processes
        // ("sshd: root@notty" and its privileged parent), not the listening sshd.
        severed = bed.processes(host(2)).filter((p) => p.pid !== host(2).sshdPid && p.argv[0]?.startsWith('sshd: ')).map((p) => p.pid);
        for (const pid of severed) process.kill(pid, 'SIGKILL');
      });
    },
  });
  assert.ok(severed.length > 0, 'found the connection to sever');
  assert.is(r.code, 255);
  const jobId = /h2: lost the connection; job ([0-9a-f]{12}) keeps running there \[CONNECTION_LOST\]/.exec(r.stderr)?.[1];
  assert.ok(jobId !== undefined, r.stderr);
  await sleep(3000);
  assert.is(bed.onHost(host(2), ['cat', `/var/lib/herd/jobs/${jobId}/work/lost-job-done`]), 'finished\n');
});

Remote('a connection killed mid-stream: the hint\'s --from-byte resumes the output exactly where it stopped', async () => {
  // 3000 numbered lines over ~3 s, so the connection dies while output flows.
  const script = 'i=0; while [ $i -lt 30 ]; do i=$((i+1)); seq $((i*100-99)) $((i*100)); sleep 0.1; done';
  const expected = Array.from({ length: 3000 }, (_, i) => `${i + 1}\n`).join('');
  let severed = false;
  const r = await run(['run', '-H', 'h2', '--', 'sh', '-c', script], {
    onStart: (child) => {
      let seen = 0;
      child.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (severed || seen < 2000) return;
        severed = true;
        for (const p of bed.processes(host(2)).filter((p) => p.pid !== host(2).sshdPid && p.argv[0]?.startsWith('sshd: '))) process.kill(p.pid, 'SIGKILL');
      });
    },
  });
  assert.ok(severed, 'the connection was cut');
  assert.is(r.code, 255);
  const hint = /herd job logs -H h2 -f ([0-9a-f]{12}) --from-byte (\d+)/.exec(r.stderr);
  assert.ok(hint !== null, r.stderr);
  assert.is(Number(hint[2]), r.stdout.length, 'the offset is what this client printed');
  assert.ok(r.stdout.length < expected.length, 'cut before the end');
  const rest = await run(['job', 'logs', '-H', 'h2', '-f', hint[1]!, '--from-byte', hint[2]!]);
  assert.is(rest.code, 0, rest.stderr);
  const whole = Buffer.concat([r.stdout, rest.stdout]);
  const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
  assert.is(sha(whole), sha(expected), 'the printed part and the resumed part make the job\'s output, each byte once');
});

Remote('job commands on a warm host use the agent socket (no process started); without -H they find the job\'s host', async () => {
  const started = await run(['run', '-H', 'h3', '--detach', '--', 'sh', '-c', 'sleep 1; echo done-on-h3']);
  assert.is(started.code, 0, started.stderr);
  const id = started.text.trim();
  const helpers = (): number[] => bed.processes(host(3)).filter(isHelper).map((p) => p.pid).sort();
  for (let i = 0; i < 30 && helpers().length > 1; i++) await sleep(100);
  const before = helpers();
  const st = await run(['job', 'status', '--json', id]);
  assert.is(st.code, 0, st.stderr);
  const doc = st.json<{ hosts: Array<{ host: string; job: { state: string } }> }>();
  assert.is(doc.hosts[0]!.host, 'h3', 'the host this client started the job on');
  assert.equal(helpers(), before, 'no helper process was started on the host');
  const followed = await run(['job', 'logs', '-f', id]);
  assert.is(followed.text, 'done-on-h3\n');
  const waited = await run(['job', 'wait', id]);
  assert.is(waited.code, 0);
});

Remote('nodesets, -x, config groups and an Ansible inventory choose the hosts; herd hosts shows them', async () => {
  const listed = await run(['hosts', '-H', 'h[1-5]', '-x', 'h2,h4', '--json']);
  assert.is(listed.code, 0, listed.stderr);
  assert.equal(listed.json<{ hosts: Array<{ name: string }> }>().hosts.map((h) => h.name), ['h1', 'h3', 'h5']);
  const fanned = await run(['run', '-H', 'h[1-3]', '-x', 'h2', '--', 'echo', 'hi']);
  assert.is(fanned.code, 0, fanned.stderr);
  assert.equal(fanned.text.split('\n').filter(Boolean).sort(), ['h1: hi', 'h3: hi']);
  // An inventory naming the hosts its own way, with their addresses and user.
  const dir = mkdtempSync(join(tmpdir(), 'herd-inventory-'));
  try {
    const inventory = join(dir, 'hosts.ini');
    writeFileSync(inventory, [
      '[web]',
      ...[1, 2].map((i) => `web${i} ansible_host=${host(i).address} ansible_user=root`),
      '[db]',
      `db1 ansible_host=${host(3).address}`,
      '[db:vars]',
      'ansible_user=root',
      '[prod:children]',
      'web',
      'db',
    ].join('\n'));
    const shown = await run(['hosts', '-i', inventory, '-H', '@prod', '-x', 'web2', '--json']);
    const hosts = shown.json<{ hosts: Array<{ name: string; address: string; user: string }> }>().hosts;
    assert.equal(hosts.map((h) => `${h.name} ${h.user}@${h.address}`), [`web1 root@${host(1).address}`, `db1 root@${host(3).address}`]);
    // Host keys are known by address, so the inventory's names need no known_hosts entries of their own.
    const ran = await run(['run', '-i', inventory, '-H', '@web', '--', 'echo', 'from-inventory']);
    assert.is(ran.code, 0, ran.stderr);
    assert.equal(ran.text.split('\n').filter(Boolean).sort(), ['web1: from-inventory', 'web2: from-inventory']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Remote('~/.ssh/config: Host aliases, HostName, User, IdentityFile, StrictHostKeyChecking, UserKnownHostsFile', async () => {
  const box = homeWith('sshconfig', ['key', 'known_hosts', 'config']);
  try {
    writeFileSync(join(box.home, '.ssh', 'config'), [
      'Host alias1',
      `  HostName ${host(1).address}`,
      '  User root',
      '  IdentityFile ~/.ssh/id_ed25519',
      '  IdentitiesOnly yes',
      'Host fresh',
      `  HostName ${host(3).address}`,
      '  User root',
      '  StrictHostKeyChecking accept-new',
      '  UserKnownHostsFile ~/.ssh/known_hosts_fresh',
      '',
    ].join('\n'));
    const shown = await herd(['hosts', '-H', 'alias1,fresh', '--json'], { home: box.home });
    assert.equal(
      shown.json<{ hosts: Array<{ name: string; address: string; user: string; port: number }> }>().hosts.map((h) => `${h.name} ${h.user}@${h.address}:${h.port}`),
      [`alias1 root@${host(1).address}:22`, `fresh root@${host(3).address}:22`],
    );
    const ran = await herd(['run', '-H', 'alias1', '--', 'echo', 'via-ssh-config'], { home: box.home });
    assert.is(ran.code, 0, ran.stderr);
    assert.is(ran.text, 'via-ssh-config\n');
    const fresh = await herd(['run', '-H', 'fresh', '--', 'echo', 'recorded'], { home: box.home });
    assert.is(fresh.code, 0, fresh.stderr);
    assert.match(readFileSync(join(box.home, '.ssh', 'known_hosts_fresh'), 'utf8'), `${host(3).address} ssh-ed25519 `);
  } finally {
    box.remove();
  }
});

Remote('ProxyJump: a host only a bastion reaches is reached through it, through a chain of two, and through a hop behind its own ProxyJump', async () => {
  // h2 and h3 refuse SSH from this machine (the testbed's bridge address) and take it from the other hosts.
  const here = host(2).address.replace(/\.\d+$/, '.1');
  const nftIn = (n: number) => (args: string[]): string => execFileSync('nsenter', [`--net=/run/netns/${host(n).netns}`, 'nft', ...args], { encoding: 'utf8' });
  const inH2 = nftIn(2);
  const inH3 = nftIn(3);
  inH2(['add', 'table', 'inet', 'herdtest']);
  inH3(['add', 'table', 'inet', 'herdtest']);
  const box = homeWith('jump', ['key', 'known_hosts', 'config']);
  try {
    for (const inHost of [inH2, inH3]) {
      inHost(['add', 'chain', 'inet', 'herdtest', 'input', '{ type filter hook input priority 0; }']);
      inHost(['add', 'rule', 'inet', 'herdtest', 'input', 'ip', 'saddr', here, 'tcp', 'dport', '22', 'reject', 'with', 'tcp', 'reset']);
    }
    writeFileSync(join(box.home, '.ssh', 'config'), [
      'Host behind',
      `  HostName ${host(2).address}`,
      '  User root',
      `  ProxyJump root@${host(1).address}`,
      'Host farther',
      `  HostName ${host(2).address}`,
      '  User root',
      `  ProxyJump bastion,root@${host(3).address}:22`,
      'Host bastion',
      `  HostName ${host(1).address}`,
      '  User root',
      // mid (h3) is itself behind bastion; deep (h2) is behind mid: OpenSSH follows the first hop's own ProxyJump.
      'Host mid',
      `  HostName ${host(3).address}`,
      '  User root',
      '  ProxyJump bastion',
      'Host deep',
      `  HostName ${host(2).address}`,
      '  User root',
      '  ProxyJump mid',
      '',
    ].join('\n'));
    const direct = await herd(['run', '-H', `root@${host(2).address}`, '--', 'true'], { home: box.home });
    assert.is(direct.code, 254, 'not reachable directly');
    const through = await herd(['run', '-H', 'behind', '--', 'echo', 'through-bastion'], { home: box.home });
    assert.is(through.code, 0, through.stderr);
    assert.is(through.text, 'through-bastion\n');
    const chain = await herd(['run', '-H', 'farther', '--', 'echo', 'two-hops'], { home: box.home });
    assert.is(chain.code, 0, chain.stderr);
    assert.is(chain.text, 'two-hops\n');
    const nested = await herd(['run', '-H', 'deep', '--', 'echo', 'behind-two'], { home: box.home });
    assert.is(nested.code, 0, nested.stderr);
    assert.is(nested.text, 'behind-two\n');
  } finally {
    box.remove();
    inH2(['delete', 'table', 'inet', 'herdtest']);
    inH3(['delete', 'table', 'inet', 'herdtest']);
  }
});

Remote('an unknown host is refused with its fingerprint; --accept-new records it', async () => {
  const box = homeWith('unknown', ['key', 'config']);
  try {
    const target = `root@${host(3).address}`;
    const refused = await herd(['run', '-H', target, '--', 'true'], { home: box.home });
    assert.is(refused.code, 255);
    assert.match(refused.stderr, /is not a known host \(key fingerprint SHA256:[A-Za-z0-9+/]+\).*\[HOST_KEY_UNKNOWN\].*--accept-new/);
    const accepted = await herd(['run', '-H', target, '--accept-new', '--', 'echo', 'in'], { home: box.home });
    assert.is(accepted.text, 'in\n', accepted.stderr);
    assert.match(readFileSync(join(box.home, '.ssh', 'known_hosts'), 'utf8'), `${host(3).address} ssh-ed25519 `);
    const again = await herd(['run', '-H', target, '--', 'echo', 'again'], { home: box.home });
    assert.is(again.text, 'again\n', again.stderr);
  } finally {
    box.remove();
  }
});

Remote('a changed host key is always refused, even with --accept-new', async () => {
  const box = homeWith('changed', ['key']);
  try {
    // Record h5's key under h3's address: to herd, h3's key has changed.
    writeFileSync(join(box.home, '.ssh', 'known_hosts'), `${bed.knownHostsLine(host(5)).replace(host(5).address, host(3).address)}\n`);
    const r = await herd(['run', '-H', `root@${host(3).address}`, '--accept-new', '--', 'true'], { home: box.home });
    assert.is(r.code, 255);
    assert.match(r.stderr, /host key of .* has changed.*\[HOST_KEY_MISMATCH\].*ssh-keygen -R/);
  } finally {
    box.remove();
  }
});

Remote('authenticates through a real ssh-agent when SSH_AUTH_SOCK is set and no key file exists', async () => {
  const box = homeWith('agent', ['known_hosts', 'config']);
  const socket = join(box.home, 'agent.sock');
  // -D: stay in the foreground, so the agent is ours to end by pid.
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    await new Promise<void>((resolve) => agent.stdout!.once('data', () => resolve()));
    execFileSync('ssh-add', ['-q', bed.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
    const r = await herd(['run', '-H', 'h1', '--', 'echo', 'via-agent'], { home: box.home, env: { SSH_AUTH_SOCK: socket } });
    assert.is(r.code, 0, r.stderr);
    assert.is(r.text, 'via-agent\n');
    const without = await herd(['run', '-H', 'h1', '--', 'true'], { home: box.home });
    assert.is(without.code, 255, 'the same HOME without the agent has no way in');
    assert.match(without.stderr, /no agent and no key file found.*\[SSH_AUTH\]/);
  } finally {
    agent.kill('SIGTERM');
    box.remove();
  }
});

Remote('an encrypted key: its passphrase is asked once on a terminal (echo off) for all hosts; without one, a clear SSH_AUTH', async () => {
  const box = homeWith('passphrase', ['known_hosts', 'config']);
  try {
    const key = join(box.home, '.ssh', 'id_ed25519');
    copyFileSync(bed.clientKey, key);
    execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', 'open sesame', '-f', key]);
    // script(1) gives herd a terminal; the passphrase is typed once the prompt shows.
    const cli = ['node', join(import.meta.dirname ?? '.', '..', '..', 'dist', 'herd.js'), 'run', '-H', 'h1,h2', '--', 'echo', 'unlocked'].join(' ');
    const tty = spawn('script', ['-qefc', cli, '/dev/null'], { env: { PATH: process.env.PATH ?? '', HOME: box.home, TERM: 'dumb', NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let seen = '';
    let prompts = 0;
    const done = new Promise<number | null>((resolve) => tty.once('close', (code) => resolve(code)));
    tty.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const count = seen.split('Enter passphrase for key').length - 1;
      if (count > prompts) {
        prompts = count;
        tty.stdin.write('open sesame\r');
      }
    });
    const timer = setTimeout(() => tty.kill('SIGKILL'), 30_000);
    const code = await done;
    clearTimeout(timer);
    assert.is(code, 0, seen);
    assert.is(prompts, 1, 'asked once for both hosts');
    assert.match(seen, `Enter passphrase for key '${key}'`);
    assert.not.match(seen, 'open sesame', 'not echoed');
    // A terminal, but NO_COLOR: host names stay plain.
    assert.match(seen, /h1: unlocked/);
    assert.match(seen, /h2: unlocked/);
    const batch = await herd(['run', '-H', 'h1', '--', 'true'], { home: box.home });
    assert.is(batch.code, 255);
    assert.match(batch.stderr, /skipped .*id_ed25519 \(encrypted, and no terminal to ask for its passphrase\).*\[SSH_AUTH\]/);
    assert.match(batch.stderr, /ssh-add .*id_ed25519/);
  } finally {
    box.remove();
  }
});

Remote('a host\'s identityFile from the config is used (with ~ expanded)', async () => {
  const box = homeWith('identity-file', ['known_hosts']);
  try {
    mkdirSync(join(box.home, 'keys'));
    copyFileSync(bed.clientKey, join(box.home, 'keys', 'deploy'));
    const config = parse(readFileSync(join(home, '.config', 'herd', 'config.yml'), 'utf8')) as Record<string, unknown>;
    config.hosts = { web: { address: host(1).address, user: 'root', identityFile: '~/keys/deploy' } };
    mkdirSync(join(box.home, '.config', 'herd'), { recursive: true });
    writeFileSync(join(box.home, '.config', 'herd', 'config.yml'), stringify(config));
    const r = await herd(['run', '-H', 'web', '--', 'echo', 'keyed'], { home: box.home });
    assert.is(r.code, 0, r.stderr);
    assert.is(r.text, 'keyed\n');
  } finally {
    box.remove();
  }
});

Remote('no usable key is SSH_AUTH; a closed port is HOST_UNREACHABLE', async () => {
  const box = homeWith('nokey', ['known_hosts']);
  try {
    const auth = await herd(['run', '-H', `root@${host(1).address}`, '--', 'true'], { home: box.home });
    assert.is(auth.code, 255);
    assert.match(auth.stderr, /authentication failed for root@.*\[SSH_AUTH\]/);
    const closed = await herd(['run', '-H', `root@${host(1).address}:2`, '--', 'true'], { home: box.home });
    assert.is(closed.code, 254, 'unreachable');
    assert.match(closed.stderr, '[HOST_UNREACHABLE]');
  } finally {
    box.remove();
  }
});

Remote('a full disk on the host is NO_SPACE with what to do, not an internal error; freed, jobs run again', async () => {
  assert.is((await run(['run', '-H', 'h4', '--', 'true'])).code, 0, 'the agent is up');
  // The host's state directory is a 2 GiB tmpfs of its own: fill it up.
  bed.onHost(host(4), ['sh', '-c', 'dd if=/dev/zero of=/var/lib/herd/filler bs=1M 2>/dev/null; true']);
  try {
    const full = await run(['run', '-H', 'h4', '--', 'echo', 'hi']);
    assert.is(full.code, 255, full.stderr);
    assert.match(full.stderr, /h4: no space left on the disk herd writes to.*\[NO_SPACE\].*herd job prune/);
  } finally {
    bed.onHost(host(4), ['rm', '-f', '/var/lib/herd/filler']);
  }
  const again = await run(['run', '-H', 'h4', '--', 'echo', 'hi']);
  assert.is(again.text, 'hi\n', again.stderr);
});

Remote('a host enrolled by one CA refuses another CA; a viewer may not run', async () => {
  const stranger = homeWith('stranger', ['key', 'known_hosts']);
  try {
    const r = await herd(['run', '-H', `root@${host(1).address}`, '--', 'true'], { home: stranger.home });
    assert.is(r.code, 255);
    assert.match(r.stderr, /trusts CA [0-9a-f]{16}, but your identity comes from CA [0-9a-f]{16}.*\[CERT_UNTRUSTED\]/);
  } finally {
    stranger.remove();
  }
  const viewer = join(home, 'viewer.yml');
  await run(['cert', 'issue', 'vic', '--role', 'viewer', '--out', viewer]);
  const config = readFileSync(viewer, 'utf8');
  const hosts = Object.fromEntries(bed.hosts.map((h) => [h.name, { address: h.address, user: 'root' }]));
  writeFileSync(viewer, `${config}${stringify({ hosts })}`);
  const denied = await run(['run', '--config', viewer, '-H', 'h1', '--', 'true']);
  assert.is(denied.code, 255);
  assert.match(denied.stderr, /h1: role "viewer" \(vic\) may not run jobs.*\[PERMISSION_DENIED\]/);
});

Remote('host mode over SSH: the command is in the testbed host\'s own network, as the SSH login, audited with it', async () => {
  const r = await run(['run', '-H', 'h2,h3', '--isolation', 'none', '--json', '--', 'sh', '-c', 'ip -o -4 addr show eth0 | awk "{print \\$4}"; id -un']);
  assert.is(r.code, 0, r.stderr);
  const hosts = r.json<{ hosts: Array<{ host: string; stdout: string }> }>().hosts;
  assert.equal(hosts.map((h) => h.stdout), [host(2), host(3)].map((h) => `${h.address}/24\nroot\n`));
  const sandboxed = await run(['run', '-H', 'h2', '--', 'sh', '-c', 'ip -o -4 addr show eth0 2>&1 | grep -c 10.250 || true']);
  assert.is(sandboxed.text.trim(), '0', 'a sandboxed job has a network of its own');
});

Remote('-l/--login picks the SSH user; --become runs the helper through sudo as root; sudo\'s refusals are BECOME_FAILED with what to do', async () => {
  const login = testLogin('ALL=(ALL) NOPASSWD: ALL');
  try {
    const as = (args: string[]) => run(['-l', login.name, '-H', 'h4', ...args]);
    const plain = await as(['run', '--isolation', 'none', '--', 'id', '-un']);
    assert.is(plain.text, `${login.name}\n`, `the SSH login, in host mode: ${plain.stderr}`);
    const jobRoot = await as(['run', '--', 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
    assert.match(jobRoot.text, /^0\n\s+0\s+\d+\s+1\n$/, `a rootless agent: job root is the login, mapped alone (${jobRoot.stderr})`);
    const become = await as(['run', '--become', '--isolation', 'none', '--', 'id', '-un']);
    assert.is(become.text, 'root\n', become.stderr);
    const sandboxed = await as(['run', '--become', '--', 'sh', '-c', 'cat /proc/self/uid_map']);
    const base = Number(/^\s*0\s+(\d+)\s+/.exec(sandboxed.text)?.[1]);
    assert.ok(base >= 0x70000000, `through sudo the agent is root's: jobs get the mapped range (${sandboxed.text}${sandboxed.stderr})`);
    const audit = await run(['audit', '-H', 'h4', '--json']);
    type Audit = { hosts: Array<{ lines: Array<{ action: string; login: string | null; detail?: { argv?: string[] } }> }> };
    const line = audit.json<Audit>().hosts[0]!.lines.filter((l) => l.action === 'run' && l.detail?.argv?.[0] === 'id').at(-1);
    assert.is(line?.login, `${login.name} (sudo to root)`, 'the audit log names the SSH login behind sudo');

    writeFileSync(`/etc/sudoers.d/herd-test-${process.pid}`, `${login.name} ALL=(ALL) ALL\n`, { mode: 0o440 });
    const needs = await as(['run', '--become', '--', 'true']);
    assert.is(needs.code, 255);
    assert.match(needs.stderr, /h4: sudo needs a password to become root \[BECOME_FAILED\] — add -K \(--ask-become-pass\)/);
    const noTerminal = await as(['run', '-K', '--', 'true']);
    assert.is(noTerminal.code, 255);
    assert.match(noTerminal.stderr, /sudo wants a password, and there is no terminal to ask for it \(-K\) \[BECOME_FAILED\]/);
    execFileSync('chpasswd', [], { input: `${login.name}:s3cret become\n` });
    // script(1) gives herd a terminal; the password is typed once, for both hosts.
    const typed = async (password: string): Promise<{ code: number | null; seen: string; prompts: number }> => {
      const cli = ['node', join(import.meta.dirname ?? '.', '..', '..', 'dist', 'herd.js'), '-l', login.name, '-H', 'h3,h4', '-K', 'run', '--isolation', 'none', '--', 'id', '-un'].join(' ');
      const tty = spawn('script', ['-qefc', cli, '/dev/null'], { env: { PATH: process.env.PATH ?? '', HOME: home, TERM: 'dumb', NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
      let seen = '';
      let prompts = 0;
      const done = new Promise<number | null>((resolve) => tty.once('close', (code) => resolve(code)));
      tty.stdout.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const count = seen.split('BECOME password:').length - 1;
        if (count > prompts) {
          prompts = count;
          tty.stdin.write(`${password}\r`);
        }
      });
      const timer = setTimeout(() => tty.kill('SIGKILL'), 45_000);
      const code = await done;
      clearTimeout(timer);
      return { code, seen, prompts };
    };
    const right = await typed('s3cret become');
    assert.is(right.code, 0, right.seen);
    assert.is(right.prompts, 1, 'asked once for both hosts');
    assert.match(right.seen, /h3: root/);
    assert.match(right.seen, /h4: root/);
    assert.not.match(right.seen, 's3cret', 'not echoed');
    const wrong = await typed('not it');
    assert.is(wrong.code, 255, wrong.seen);
    assert.match(wrong.seen, /sudo refused the password.*\[BECOME_FAILED\]/);
  } finally {
    await login.remove();
  }
});

Remote('herd ca rotate across 3 hosts: the new CA trusted before the old one goes, no run refused in between, the host certificates keep their names', async () => {
  const box = homeWith('rotate', ['key', 'known_hosts']);
  const names = ['h1', 'h2', 'h3'];
  const three = names.join(',');
  const hosts = Object.fromEntries(bed.hosts.map((h) => [h.name, { address: h.address, user: 'root' }]));
  mkdirSync(join(box.home, '.config', 'herd'), { recursive: true });
  writeFileSync(join(box.home, '.config', 'herd', 'config.yml'), stringify({ hosts }));
  const as = (args: string[]) => herd(args, { home: box.home, timeoutMs: 60_000 });
  let newCa = '';
  try {
    assert.is((await as(['run', '-H', 'h1', '--', 'true'])).code, 255, 'the hosts trust the suite\'s CA, not this one');
    const trusted = await as(['host', 'trust', '-H', three, '--json']);
    assert.is(trusted.code, 0, trusted.stderr);
    const oldCa = trusted.json<{ ca: string }>().ca;
    const before = (await as(['host', 'list', '--json'])).json<{ hosts: Array<{ dialled: string; subject: string; ca: string }> }>().hosts.filter((h) => h.ca === oldCa);
    assert.equal(before.map((h) => h.dialled).sort(), names);
    // The subject a host was first certified with (by the suite's CA) stays its name under every CA.
    const subjects = Object.fromEntries(before.map((h) => [h.dialled, h.subject]));
    const uli = join(box.home, 'uli.yml');
    assert.is((await as(['cert', 'issue', 'uli', '--out', uli])).code, 0);
    writeFileSync(uli, `${readFileSync(uli, 'utf8')}${stringify({ hosts })}`);
    const oldConfig = join(box.home, 'old.yml');
    copyFileSync(join(box.home, '.config', 'herd', 'config.yml'), oldConfig);

    // Runs go on the whole time, each reading the config as it is at its start.
    let rotating = true;
    const runs: Array<{ code: number | null; stderr: string }> = [];
    const loop = (async () => {
      while (rotating) runs.push(await as(['run', '-H', three, '--', 'true']));
    })();
    await sleep(500);
    const rotated = await as(['ca', 'rotate', '--json']);
    await sleep(1000);
    rotating = false;
    await loop;
    assert.is(rotated.code, 0, rotated.stderr);
    const doc = rotated.json<{ from: string; to: string; switched: boolean; hosts: Array<{ host: string; added: string; old: string; error: unknown }>; oldCertificates: Array<{ subject: string }> }>();
    newCa = doc.to;
    assert.is(doc.from, oldCa);
    assert.ok(doc.switched);
    assert.equal(doc.hosts.map((h) => [h.host, h.added, h.old, h.error]).sort(), names.map((n) => [n, 'added', 'removed', null]));
    assert.equal(doc.oldCertificates.map((c) => c.subject), ['uli'], 'the command names the certificates the old CA issued');
    assert.ok(runs.length >= 3, `runs went on during the rotation (${runs.length})`);
    const refused = runs.filter((r) => r.code !== 0);
    assert.equal(refused.map((r) => r.stderr), [], 'no run was refused while the CA changed');

    const list = (await as(['host', 'trust', '--list', '-H', three, '--json'])).json<{ hosts: Array<{ host: string; cas: Array<{ ca: string; hostCert: { subject: string } | null }> }> }>();
    for (const h of list.hosts) {
      const cas = h.cas.map((c) => c.ca);
      assert.ok(cas.includes(newCa) && !cas.includes(oldCa), `${h.host}: ${cas.join(' ')}`);
      assert.is(h.cas.find((c) => c.ca === newCa)?.hostCert?.subject, subjects[h.host], 'the new CA\'s host certificate names the same host');
    }
    const listed = (await as(['host', 'list', '--json'])).json<{ hosts: Array<{ dialled: string; subject: string; ca: string; status: string }> }>().hosts;
    assert.ok(listed.filter((h) => h.ca === oldCa).every((h) => h.status === 'old-ca'), 'the old CA\'s host certificates are not shown as valid');
    const after = listed.filter((h) => h.ca === newCa);
    assert.equal(Object.fromEntries(after.map((h) => [h.dialled, h.subject])), subjects);
    const old = await as(['run', '--config', oldConfig, '-H', 'h2', '--', 'true']);
    assert.is(old.code, 255);
    assert.match(old.stderr, '[CERT_UNTRUSTED]');
    const uliNow = await as(['run', '--config', uli, '-H', 'h2', '--', 'true']);
    assert.match(uliNow.stderr, '[CERT_UNTRUSTED]');
    assert.is((await as(['run', '-H', three, '--', 'echo', 'new CA'])).text.split('\n').filter((l) => l.endsWith('new CA')).length, 3);
    const again = await as(['ca', 'rotate', '--config', uli]);
    assert.is(again.code, 255);
    assert.match(again.stderr, /holds no CA secret key, so it cannot rotate the CA.*\[PERMISSION_DENIED\]/);
  } finally {
    if (newCa !== '') await run(['host', 'trust', '--remove', newCa, '-H', three]);
    box.remove();
  }
});

Remote('herd ca rotate cut short after the switch is taken up at the removal; a rotation file herd did not write is refused', async () => {
  const box = homeWith('rotate-cut', ['key', 'known_hosts']);
  const hosts = { h1: { address: bed.hosts[0]!.address, user: 'root' } };
  const dir = join(box.home, '.config', 'herd');
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'config.yml');
  writeFileSync(config, stringify({ hosts }));
  const as = (args: string[], onStart?: Parameters<typeof herd>[1]['onStart']) => herd(args, { home: box.home, timeoutMs: 60_000, ...(onStart === undefined ? {} : { onStart }) });
  const trustOf = async (): Promise<string[]> => (await as(['host', 'trust', '--list', '-H', 'h1', '--json'])).json<{ hosts: Array<{ cas: Array<{ ca: string }> }> }>().hosts[0]!.cas.map((c) => c.ca);
  // The CAs this test added: the suite's own CA stays trusted on h1 throughout.
  const added: string[] = [];
  try {
    const trusted = await as(['host', 'trust', '-H', 'h1', '--json']);
    assert.is(trusted.code, 0, trusted.stderr);
    const oldCa = trusted.json<{ ca: string }>().ca;
    added.push(oldCa);
    const others = (await trustOf()).filter((c) => c !== oldCa);
    // Killed while it waits out the grace: the config is switched, the old CA still on the host.
    const cut = await as(['ca', 'rotate', '--grace', '60s'], (child) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('waiting')) child.kill('SIGKILL');
      });
    });
    assert.is(cut.signal, 'SIGKILL', cut.stderr);
    const during = await trustOf();
    const newCa = during.find((c) => c !== oldCa && !others.includes(c));
    assert.ok(newCa !== undefined && during.includes(oldCa), `both CAs trusted: ${during.join(' ')}`);
    added.push(newCa!);
    const resumed = await as(['ca', 'rotate', '--json']);
    assert.is(resumed.code, 0, resumed.stderr);
    const doc = resumed.json<{ from: string; to: string; hosts: Array<{ old: string }> }>();
    assert.equal([doc.from, doc.to, doc.hosts[0]?.old], [oldCa, newCa, 'removed'], 'the same rotation, not a new CA');
    assert.equal((await trustOf()).sort(), [...others, newCa!].sort());
    assert.not.ok(existsSync(`${config}.rotating`), 'the rotation is over');

    // A rotation file planted by someone who can write the directory: never signed with, never pushed.
    const planted = join(box.home, 'planted.yml');
    writeFileSync(planted, 'from: x\n');
    symlinkSync(planted, `${config}.rotating`);
    const linked = await as(['ca', 'rotate']);
    assert.is(linked.code, 255, linked.stderr);
    assert.match(linked.stderr, /is not a private file of yours.*\[CONFIG\]/);
    rmSync(`${config}.rotating`);
    writeFileSync(`${config}.rotating`, 'from: x\n', { mode: 0o644 });
    assert.match((await as(['ca', 'rotate'])).stderr, /not a private file of yours/);
    rmSync(`${config}.rotating`);
    assert.equal((await trustOf()).sort(), [...others, newCa!].sort(), 'nothing changed on the host');
  } finally {
    for (const ca of added) await run(['host', 'trust', '--remove', ca, '-H', 'h1']);
    box.remove();
  }
});

Remote('a host with no JavaScript runtime, and --ship-runtime never or no gzip, gets a clear HELPER_START error', async () => {
  // A PATH with the tools bootstrap.sh uses but no node, bun or deno, for the local transport.
  const bin = join(home, 'no-runtime-bin');
  mkdirSync(bin, { recursive: true });
  for (const tool of ['sh', 'id', 'mkdir', 'head', 'sha256sum', 'mv', 'rm', 'df', 'awk', 'cat']) {
    try {
      symlinkSync(`/usr/bin/${tool}`, join(bin, tool));
    } catch {
      symlinkSync(`/bin/${tool}`, join(bin, tool));
    }
  }
  const r = await run(['run', '--ship-runtime', 'never', '--', 'true'], { env: { PATH: bin, HERD_STATE_DIR: join(home, 'no-runtime-state') } });
  assert.is(r.code, 255);
  assert.match(r.stderr, /local: no JavaScript runtime on this host \(node, bun or deno on the PATH of non-interactive SSH logins\), and --ship-runtime never.*\[HELPER_START\]/);
  // Without --ship-runtime never, herd would ship Bun; this host lacks even gzip to unpack it, and says so.
  const noGzip = await run(['run', '--', 'true'], { env: { PATH: bin, HERD_STATE_DIR: join(home, 'no-runtime-state') } });
  assert.is(noGzip.code, 255);
  assert.match(noGzip.stderr, /no gzip to unpack the one herd would send.*\[HELPER_START\]/);
});

if (enabled) Remote.run();
