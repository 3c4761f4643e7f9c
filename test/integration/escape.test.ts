/*
 * Attacks a root job makes on its host, each of which worked before jobs got a user namespace of
 * their own, masked /proc and /sys, a read-only /dev and hidden secrets (issue 12). Every test
 * performs the attack and asserts it fails; where an attack would change the host, it writes back
 * the value already there, so a vulnerable host is left as it was.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gate, HERD, herd, localHome, stopAgents, stopAgentsAndWait, stopJobs } from './harness.ts';

const Escape = suite('a root job cannot take over its host');
const enabled = gate('escape.test.ts', { root: true, commands: ['unshare', 'setpriv'] });
const box = localHome('escape');
const state = join(box.home, 'state');
const opts = { home: box.home, env: { HERD_STATE_DIR: state } };
const sh = (script: string, extra: string[] = []) => herd(['run', ...extra, '--', 'sh', '-c', script], opts);
const scratch = `/var/tmp/herd-escape-${process.pid}`;

Escape.before(() => {
  mkdirSync(scratch, { recursive: true, mode: 0o755 });
});

Escape.after(async () => {
  await stopJobs(opts);
  stopAgents(state);
  rmSync(scratch, { recursive: true, force: true });
  box.remove();
});

Escape('the job is root of its own user namespace only: host uid 0 is not its uid 0', async () => {
  const r = await sh('id -u; cat /proc/self/uid_map; stat -c %u /');
  assert.is(r.code, 0, r.stderr);
  const [uid, map, rootOwner] = r.text.trim().split('\n');
  assert.is(uid, '0', 'root inside');
  assert.match(map!.trim(), /^0\s+1879048192\s+65536$/, 'job uid 0 is host uid 0x70000000');
  assert.is(rootOwner, '65534', 'the host\'s root-owned files belong to nobody in the job');
});

Escape('no global sysctl can be written: core_pattern, vm settings, sysrq-trigger', async () => {
  const before = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
  // Each write puts back what is there: on a vulnerable host nothing changes.
  const r = await sh([
    'cat /proc/sys/kernel/core_pattern > /tmp/v && { cat /tmp/v > /proc/sys/kernel/core_pattern; } 2>/dev/null && echo core_pattern-written',
    'cat /proc/sys/vm/overcommit_memory > /tmp/o && { cat /tmp/o > /proc/sys/vm/overcommit_memory; } 2>/dev/null && echo vm-written',
    // Opening for writing triggers nothing (only write(2) does); being allowed to is the hole.
    // (In a subshell: dash leaves the shell when a special builtin's redirection fails.)
    '( : > /proc/sysrq-trigger ) 2>/dev/null && echo sysrq-open',
    'test -s /tmp/v && echo read-ok',
  ].join('; '));
  assert.is(r.text, 'read-ok\n', `the job could write: ${r.text} ${r.stderr}`);
  assert.is(readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), before);
});

Escape('no device node: mknod fails, and a host loop device cannot be opened', async () => {
  const r = await sh([
    '{ mknod /dev/l0 b 7 0 && exec 3<>/dev/l0 && echo opened-dev; } 2>/dev/null',
    '{ mknod /tmp/l0 b 7 0 && exec 4<>/tmp/l0 && echo opened-tmp; } 2>/dev/null',
    '{ mknod /work/null c 1 3 && echo made-work; } 2>/dev/null',
    'echo done',
  ].join('; '));
  assert.is(r.text, 'done\n', r.stderr);
  const jobs = readdirSync(join(state, 'jobs')).filter((id) => /^[0-9a-f]{12}$/.test(id));
  for (const id of jobs) {
    for (const place of ['dev/l0', 'work/null', 'root/dev/l0']) assert.not.ok(existsSync(join(state, 'jobs', id, place)), `${place} left on the host`);
  }
});

Escape('the job\'s cgroup denies every device but its own, even to a process holding a host path to one', async () => {
  // Nothing in the job's view leads to a host device (nodev mounts, no CAP_MKNOD); the cgroup's
  // policy is the layer under those. A host-root shell joins the running job's devices cgroup and
  // tries what a node that reached the job would allow: the kernel checks the cgroup, not the caller.
  const r = await herd(['run', '--detach', '--', 'sleep', '30'], opts);
  assert.is(r.code, 0, r.stderr);
  const id = /[0-9a-f]{12}/.exec(r.text)?.[0];
  assert.ok(id !== undefined, r.text);
  try {
    const cgroup = `/sys/fs/cgroup/devices/herd/${id}`;
    const probe = [
      `echo $$ > ${cgroup}/cgroup.procs || exit 9`,
      '( exec 3</dev/null ) 2>/dev/null && echo null',
      '( exec 3</dev/urandom ) 2>/dev/null && echo urandom',
      '( exec 3</dev/kmsg ) 2>/dev/null && echo kmsg',
      '( exec 3</dev/loop0 ) 2>/dev/null && echo loop0',
      '( exec 3<>/dev/loop-control ) 2>/dev/null && echo loop-control',
      '( mknod /tmp/herd-escape-null-$$ c 1 3 ) 2>/dev/null && { rm -f /tmp/herd-escape-null-$$; echo mknod; }',
      'true',
    ].join('; ');
    const joined = spawn('sh', ['-c', probe], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    joined.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => joined.once('exit', resolve));
    assert.is(code, 0, `could not join ${cgroup}`);
    assert.is(out, 'null\nurandom\n', 'only the job\'s own devices open');
    const status = await herd(['job', 'status', id!], opts);
    assert.match(status.text, /^devices +allow list \(cgroup v1\)$/m);
  } finally {
    await herd(['job', 'stop', id!], opts);
  }
});

Escape('host secrets: a root-only file, /etc/shadow, another herd state directory and its host key', async () => {
  const secret = join(scratch, 'secret');
  writeFileSync(secret, 'host-secret\n', { mode: 0o600 });
  // A second agent, as another herd setup on the host would have: its own state directory.
  const other = join(scratch, 'other-state');
  const started = await herd(['run', '--', 'true'], { home: box.home, env: { HERD_STATE_DIR: other } });
  assert.is(started.code, 0, started.stderr);
  try {
    assert.ok(existsSync(join(other, 'host.key')));
    const r = await sh([
      `cat ${secret} 2>/dev/null`,
      'grep -c "^root:" /etc/shadow 2>/dev/null',
      `cat ${other}/host.key 2>/dev/null | head -c 20`,
      `ls ${other} 2>/dev/null | head -3`,
      'ls -A /root /home 2>/dev/null | grep -v ":$" | grep -c .',
      'echo end',
    ].join('; '));
    assert.not.match(r.text, /host-secret/);
    assert.not.match(r.text, /PRIVATE|helper-|agent-/, 'nothing of the other state directory');
    assert.is(r.text, '0\n0\nend\n', r.stderr);
  } finally {
    await stopAgentsAndWait(other);
  }
});

Escape('a job cannot connect to a herd agent\'s socket', async () => {
  const other = join(scratch, 'sock-state');
  const started = await herd(['run', '--', 'true'], { home: box.home, env: { HERD_STATE_DIR: other } });
  assert.is(started.code, 0, started.stderr);
  try {
    const socket = readdirSync(other).find((f) => f.endsWith('.sock'));
    assert.ok(socket !== undefined, 'the other agent listens');
    const script = `require('net').connect(${JSON.stringify(join(other, socket!))}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => console.log(e.code))`;
    const r = await herd(['run', '--', process.execPath, '-e', script], opts);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.text, /^(EACCES|ENOENT)\n$/, `the job reached the agent: ${r.text}`);
  } finally {
    await stopAgentsAndWait(other);
  }
});

Escape('a nested user namespace undoes nothing: no remount, no unmask, no fresh /proc', async () => {
  // The seccomp filter refuses new namespaces outright; where it cannot be loaded, a nested user
  // namespace must still find every mount locked. Both ways, nothing below may print.
  const nested = [
    'mount -o remount,rw /proc/sys 2>/dev/null && echo remounted',
    'umount /proc/keys 2>/dev/null && echo unmasked',
    'umount /sys/firmware 2>/dev/null && echo unmasked-sys',
    'cat /proc/sys/kernel/core_pattern > /tmp/v; { cat /tmp/v > /proc/sys/kernel/core_pattern; } 2>/dev/null && echo core_pattern-written',
  ].join('; ');
  const r = await sh(`unshare -Urm sh -c '${nested}' 2>/dev/null; unshare -Urmpf --mount-proc true 2>/dev/null && echo fresh-proc; echo out`);
  assert.is(r.text, 'out\n', r.stderr);
});

Escape('seccomp: keyctl, io_uring, new namespaces and kexec fail with EPERM; job status says the filter is loaded', async () => {
  // perl's syscall() makes raw calls: keyctl(GET_KEYRING_ID, SESSION), io_uring_setup(1, params),
  // unshare(CLONE_NEWUSER), kexec_load(0, 0, 0, 0); each prints its return value and errno.
  const script = [
    'my $p = "\\0" x 120;',
    'for my $c ([250, 0, -3, 0], [425, 1, $p], [272, 0x10000000], [246, 0, 0, 0, 0]) {',
    // (syscall's first argument is taken in scalar context: the number must be passed on its own.)
    '  my @a = @$c; my $r = syscall($a[0], @a[1 .. $#a]); print "$a[0]:", ($r < 0 ? 0 + $! : "ok"), "\\n";',
    '}',
  ].join(' ');
  const r = await herd(['run', '--json', '--require-seccomp', '--', 'perl', '-e', script], opts);
  assert.is(r.code, 0, r.stderr);
  const doc = r.json<{ hosts: Array<{ stdout: string; result: { jobId: string } }> }>();
  assert.is(doc.hosts[0]!.stdout, '250:1\n425:1\n272:1\n246:1\n', 'each refused with EPERM (1)');
  const status = await herd(['job', 'status', doc.hosts[0]!.result.jobId], opts);
  assert.match(status.text, /^seccomp +yes$/m);
});

Escape('a job holds no descriptor of whoever started herd, its agent or supervisor', async () => {
  const marker = join(scratch, 'inherited-fd');
  writeFileSync(marker, 'x');
  const fresh = join(scratch, 'fd-state');
  const fd = openSync(marker, 'r');
  try {
    // A descriptor without close-on-exec in herd's own process, as a shell's `3<file` gives it;
    // a fresh state directory, so this run starts the agent.
    const listing = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [HERD, 'run', '--', 'sh', '-c', 'ls -l /proc/$$/fd | grep -c -- "->"; for f in /proc/$$/fd/*; do readlink $f || true; done'], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: box.home, HERD_STATE_DIR: fresh },
        stdio: ['ignore', 'pipe', 'pipe', fd],
      });
      let out = '';
      let err = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
      child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
    });
    assert.not.match(listing, /inherited-fd/, `the job inherited: ${listing}`);
    assert.is(listing.split('\n')[0], '3', `only stdin, stdout, stderr: ${listing}`);
    const agents = readdirSync(fresh).filter((f) => /^agent-[0-9a-f]+\.lock$/.test(f));
    const agentPid = Number(readFileSync(join(fresh, agents[0]!), 'utf8').trim());
    const agentFds = readdirSync(`/proc/${agentPid}/fd`).map((n) => {
      try {
        return readlinkSync(`/proc/${agentPid}/fd/${n}`);
      } catch {
        return ''; // closed meanwhile
      }
    });
    assert.not.ok(agentFds.some((target) => target.includes('inherited-fd')), 'nor does the agent');
  } finally {
    closeSync(fd);
    await stopAgentsAndWait(fresh);
  }
});

Escape('-e secrets are never written to the host\'s disk', async () => {
  // The command names only the secret's length: the value itself travels in the environment alone.
  const r = await herd(['run', '--detach', '-e', 'TOKEN=hunter2-secret', '--', 'sh', '-c', 'test ${#TOKEN} = 14 && sleep 30'], opts);
  assert.is(r.code, 0, r.stderr);
  const id = /[0-9a-f]{12}/.exec(r.text)?.[0];
  assert.ok(id !== undefined, r.text);
  const dir = join(state, 'jobs', id!);
  const found: string[] = [];
  const walk = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory() && entry.name !== 'root') walk(full);
      else if (entry.isFile() && readFileSync(full).includes('hunter2')) found.push(full);
    }
  };
  walk(dir);
  assert.equal(found, [], 'no file of the job holds the secret');
  const status = await herd(['job', 'status', id!], opts);
  assert.is(status.code, 0, status.stderr);
  assert.match(status.text, /RUNNING/, 'the job saw its secret (it would have exited otherwise)');
  assert.not.match(status.text, /hunter2/);
  await herd(['job', 'stop', '--grace', '0', id!], opts);
});

Escape('-e secrets of a scheduled job wait in the agent\'s memory, not in its record', async () => {
  const r = await herd(['run', '--detach', '--schedule', '+2s', '-e', 'TOKEN=hunter2-secret', '--', 'sh', '-c', 'echo ${#TOKEN}'], opts);
  assert.is(r.code, 0, r.stderr);
  const id = /[0-9a-f]{12}/.exec(r.text)?.[0];
  assert.ok(id !== undefined, r.text);
  const record = readFileSync(join(state, 'jobs', id!, 'job.json'), 'utf8');
  assert.match(record, /"SCHEDULED"/);
  assert.not.match(record, /hunter2/, 'the scheduled record holds no value');
  assert.equal((JSON.parse(record) as { envHeld?: string[] }).envHeld, ['TOKEN'], 'only the name');
  const waited = await herd(['job', 'wait', id!], opts);
  assert.is(waited.code, 0, waited.stderr);
  const logs = await herd(['job', 'logs', id!], opts);
  assert.is(logs.text, '14\n', 'the job got the value when it started');
  assert.not.match(readFileSync(join(state, 'jobs', id!, 'job.json'), 'utf8'), /hunter2/);
});

Escape('a scheduled job whose agent is gone before its time never starts without its -e values, and says why', async () => {
  const r = await herd(['run', '--detach', '--schedule', '+2s', '-e', 'TOKEN=hunter2-secret', '--', 'sh', '-c', 'echo ${TOKEN:-unset}'], opts);
  assert.is(r.code, 0, r.stderr);
  const id = /[0-9a-f]{12}/.exec(r.text)?.[0];
  assert.ok(id !== undefined, r.text);
  await stopAgentsAndWait(state);
  const waited = await herd(['job', 'wait', id!], opts);
  assert.is(waited.code, 255, `a job that never started: ${waited.stderr}`);
  const status = await herd(['job', 'status', '--json', id!], opts);
  const job = status.json<{ hosts: Array<{ job: { state: string; reason: string | null } }> }>().hosts[0]!.job;
  assert.is(job.state, 'FAILED');
  assert.match(job.reason ?? '', /TOKEN.*held only in the memory of the agent/);
  const logs = await herd(['job', 'logs', id!], opts);
  assert.is(logs.text, '', 'it did not run with TOKEN unset');
});

Escape('the job\'s environment never reaches what runs as host root: -e PATH cannot run files a job left', async () => {
  const marker = join(scratch, 'env-ran-as-host');
  // Job A leaves executables named like the tools a job's setup runs; each would record who ran it.
  const tools = ['mount', 'umount', 'ip', 'hostname', 'pivot_root', 'sh', 'setpriv', 'unshare', 'cat', 'env'];
  const fake = `#!/bin/sh\nid -u >> ${marker}\nexec /usr/bin/$(basename "$0") "$@"\n`;
  const a = await herd(['run', '--json', '--', 'sh', '-c', `for t in ${tools.join(' ')}; do printf '%s' '${fake}' > /work/$t; chmod 755 /work/$t; done`], opts);
  assert.is(a.code, 0, a.stderr);
  const left = join(state, 'jobs', a.json<{ hosts: Array<{ result: { jobId: string } }> }>().hosts[0]!.result.jobId, 'work');
  assert.ok(existsSync(join(left, 'mount')), 'job A left its tools on the host');
  const b = await herd(['run', '-e', `PATH=${left}:/usr/sbin:/usr/bin:/sbin:/bin`, '-e', `LD_LIBRARY_PATH=${left}`, '--', 'true'], opts);
  assert.is(b.code, 0, b.stderr);
  assert.not.ok(existsSync(marker), `a job-written file ran outside the job as uid ${existsSync(marker) ? readFileSync(marker, 'utf8').trim() : ''}`);
});

Escape('a user certificate may not leave the sandbox: --network host needs admin', async () => {
  const userConfig = join(box.home, 'user.yml');
  const issued = await herd(['cert', 'issue', 'uma', '--role', 'user', '--out', userConfig], opts);
  assert.is(issued.code, 0, issued.stderr);
  writeFileSync(userConfig, `${readFileSync(userConfig, 'utf8')}defaults:\n  network: none\n`);
  const denied = await herd(['run', '--config', userConfig, '--network', 'host', '--', 'true'], opts);
  assert.is(denied.code, 255);
  assert.match(denied.stderr, /role "user" \(uma\) may not run jobs in the host's network.*\[PERMISSION_DENIED\]/);
  const allowed = await herd(['run', '--config', userConfig, '--', 'true'], opts);
  assert.is(allowed.code, 0, allowed.stderr);
  const admin = await herd(['run', '--network', 'host', '--', 'true'], opts);
  assert.is(admin.code, 0, admin.stderr);
});

Escape('job listings escape control characters from the job\'s command', async () => {
  const r = await herd(['run', '--', 'sh', '-c', 'true', '\u001b]0;owned\u0007\u001b[2J'], opts);
  assert.is(r.code, 0, r.stderr);
  const list = await herd(['job', 'list'], opts);
  assert.is(list.code, 0, list.stderr);
  assert.not.ok(/[\u0000-\u0008\u000b-\u001f\u007f]/.test(list.text), `raw control characters in: ${JSON.stringify(list.text)}`);
  assert.match(list.text, /\$'\\e\]0;owned\\a\\e\[2J'/);
});

Escape('a helper planted in the cache is never run: its hash is checked before each start', async () => {
  const dir = join(scratch, 'planted-state');
  const first = await herd(['run', '--', 'true'], { home: box.home, env: { HERD_STATE_DIR: dir } });
  assert.is(first.code, 0, first.stderr);
  await stopAgentsAndWait(dir);
  const cached = readdirSync(dir).find((f) => /^helper-[0-9a-f]{64}\.mjs$/.test(f))!;
  const proof = join(scratch, 'planted-ran');
  writeFileSync(join(dir, cached), `require('fs').writeFileSync(${JSON.stringify(proof)}, 'ran');\n`);
  try {
    const again = await herd(['run', '--', 'echo', 'real'], { home: box.home, env: { HERD_STATE_DIR: dir } });
    assert.is(again.text, 'real\n', again.stderr);
    assert.not.ok(existsSync(proof), 'the planted file ran as root');
  } finally {
    await stopAgentsAndWait(dir);
  }
});

Escape('a state directory others can write, or a symlink, is refused (STATE_UNSAFE)', async () => {
  const open = join(scratch, 'open-state');
  mkdirSync(open, { mode: 0o777 });
  chmodSync(open, 0o777);
  const link = join(scratch, 'link-state');
  const target = join(scratch, 'link-target');
  mkdirSync(target, { mode: 0o700 });
  symlinkSync(target, link);
  // A directory of another user's above it: they could swap the state directory after the check.
  const theirs = join(scratch, 'their-dir');
  mkdirSync(theirs, { mode: 0o755 });
  chownSync(theirs, 65534, 65534);
  const under = join(theirs, 'state');
  try {
    for (const dir of [open, link, under]) {
      const r = await herd(['run', '--', 'true'], { home: box.home, env: { HERD_STATE_DIR: dir } });
      assert.is(r.code, 255, `${dir}: ${r.stderr}`);
      assert.match(r.stderr, /(the state directory .* (is a symlink|has owner uid 0 and mode drwxrwxrwx)|a directory above the state directory .* may be changed by another user).*\[STATE_UNSAFE\]/);
      assert.equal(readdirSync(dir), [], 'nothing was written there');
    }
  } finally {
    await stopAgentsAndWait(open);
    await stopAgentsAndWait(target);
  }
});

if (enabled) Escape.run();
