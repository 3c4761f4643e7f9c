import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gate, herd, localHome, sleep, stopAgents } from './harness.ts';

const Isolation = suite('what a job sees');
const enabled = gate('isolation.test.ts', { root: true, commands: ['unshare', 'setpriv'] });
const box = localHome('isolation');
const state = join(box.home, 'state');
const opts = { home: box.home, env: { HERD_STATE_DIR: state } };
const sh = (script: string, extra: string[] = []) => herd(['run', ...extra, '--', 'sh', '-c', script], opts);

Isolation.after(() => {
  stopAgents(state);
  box.remove();
});

Isolation('the host is read-only; /work is writable and kept on the host', async () => {
  const r = await sh('touch /usr/herd-x 2>/dev/null || echo usr-ro; touch /etc/herd-x 2>/dev/null || echo etc-ro; echo data > /work/file && echo work-rw; pwd');
  assert.is(r.text, 'usr-ro\netc-ro\nwork-rw\n/work\n', r.stderr);
  const jobId = readdirSync(join(state, 'jobs')).find((id) => existsSync(join(state, 'jobs', id, 'work', 'file')));
  assert.ok(jobId !== undefined, 'the job\'s /work lives in its directory on the host');
  assert.is(readFileSync(join(state, 'jobs', jobId!, 'work', 'file'), 'utf8'), 'data\n');
  assert.not.ok(existsSync(join(state, 'jobs', jobId!, 'root', 'usr')), 'the job root is removed after the job');
});

Isolation('/tmp is private to the job, and so are /run and /dev/shm', async () => {
  const marker = `/tmp/herd-host-marker-${process.pid}`;
  writeFileSync(marker, 'host');
  try {
    const r = await sh(`test -e ${marker} && echo sees-host-tmp; echo job > /tmp/job-file; echo x > /dev/shm/s && echo shm-rw; ls /run | wc -l`);
    assert.is(r.text, 'shm-rw\n0\n', r.stderr);
    assert.not.ok(existsSync('/tmp/job-file'), 'the job\'s /tmp does not reach the host');
  } finally {
    rmSync(marker, { force: true });
  }
});

Isolation('a fresh /proc, a minimal /dev, a read-only /sys without the host cgroup tree', async () => {
  const r = await sh('ls /dev | tr "\\n" " "; echo; touch /sys/x 2>/dev/null || echo sys-ro; ls /sys/fs/cgroup | wc -l; ps -e -o comm= > /tmp/ps; sort /tmp/ps | tr "\\n" " "');
  const [dev, sys, cgroups, procs] = r.text.split('\n');
  assert.is(dev, 'fd full null ptmx pts random shm stderr stdin stdout tty urandom zero ');
  assert.is(sys, 'sys-ro');
  assert.is(cgroups, '0', 'the host cgroup mounts are not bound into the job');
  assert.is(procs, 'ps sh sh ', 'only the job\'s own processes: init, the command, ps');
});

Isolation('herd\'s state directory (the host key) is hidden from the job', async () => {
  // A state directory under /var, which jobs see read-only: it must appear empty.
  const hidden = `/var/tmp/herd-state-test-${process.pid}`;
  try {
    const r = await herd(['run', '--', 'sh', '-c', `ls -A ${hidden} | wc -l; cat ${hidden}/host.key 2>/dev/null || echo no-key`], {
      home: box.home,
      env: { HERD_STATE_DIR: hidden },
    });
    assert.is(r.text, '0\nno-key\n', r.stderr);
    assert.ok(existsSync(join(hidden, 'host.key')), 'the key is there on the host');
  } finally {
    stopAgents(hidden);
    rmSync(hidden, { recursive: true, force: true });
  }
});

Isolation('no_new_privs, a reduced capability bounding set, and --user', async () => {
  const r = await sh('grep -E "^(NoNewPrivs|CapBnd)" /proc/self/status | tr -s "\\t" " " | sort');
  assert.is(r.text, 'CapBnd: 00000000a00405fb\nNoNewPrivs: 1\n', 'Docker\'s default set without net_raw and mknod: no sys_admin, sys_module, sys_ptrace, net_admin...');
  const asNobody = await sh('id -u; id -g; echo hi > /work/mine && echo work-rw; touch /root/x 2>/dev/null || echo root-denied', ['--user', '65534:65534']);
  assert.is(asNobody.text, '65534\n65534\nwork-rw\nroot-denied\n', asNobody.stderr);
  const bad = await sh('true', ['--user', 'nobody']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--user: "nobody" is not UID\[:GID\].*\[INVALID_SPEC\]/);
});

Isolation('the environment holds only PATH, HOME, HOSTNAME, PWD and what the user gave', async () => {
  const r = await herd(['run', '-e', 'MINE=1', '--', 'env'], { ...opts, env: { ...opts.env, SECRET_OF_CALLER: 'x' } });
  const names = r.text.trim().split('\n').map((l) => l.split('=')[0]).sort();
  assert.equal(names, ['HOME', 'HOSTNAME', 'MINE', 'PATH', 'PWD']);
  assert.match(r.text, /^PWD=\/work$/m);
});

Isolation('a job that orphans 100 children leaves no zombie while it runs', async () => {
  const script = 'for i in $(seq 100); do (sleep 0.2 &) ; done; sleep 1; ps -e -o stat= | grep -c "^Z" || true';
  const r = await sh(script);
  assert.is(r.text.trim(), '0', 'PID 1 reaped every orphan');
});

Isolation('when the command exits, everything it left behind in the job is killed', async () => {
  // A distinctive sleep that the command leaves running in the background.
  const marker = `${4000 + (process.pid % 1000)}.25`;
  const r = await sh(`sleep ${marker} & echo started`);
  assert.is(r.text, 'started\n');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const survivors = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false;
      }
    });
  assert.equal(survivors, [], 'no process of the job outlives it');
});

Isolation('SIGTERM from Ctrl-C reaches the command through PID 1', async () => {
  const r = await herd(['run', '--', 'sh', '-c', 'trap "echo term; exit 3" TERM; echo up; while :; do sleep 0.1; done'], {
    ...opts,
    onStart: (child) => child.stdout!.once('data', () => child.kill('SIGINT')),
  });
  assert.is(r.code, 130);
  assert.is(r.text, 'up\nterm\n');
});

Isolation('a job setup failure names its step and runs nothing', async () => {
  const r = await sh('echo should-not-run', ['--workdir', '/no/such/dir']);
  assert.is(r.code, 255);
  assert.is(r.text, '');
  assert.match(r.stderr, /job setup failed at workdir: \/no\/such\/dir is not a directory in the job \[JOB_FAILED\]/);
  await sleep(10);
});

Isolation('--bind: a host path at a job path, read-only with :ro, writable without; refused for a user certificate and never over herd\'s state', async () => {
  const dir = join(box.home, `bind-src-${process.pid}`);
  // World-writable: the job's root is an unprivileged host user, and file permissions still apply.
  mkdirSync(dir, { recursive: true, mode: 0o777 });
  chmodSync(dir, 0o777);
  writeFileSync(join(dir, 'in.txt'), 'from the host\n');
  try {
    const ro = await sh('cat /work/data/in.txt; echo x > /work/data/new 2>/dev/null || echo ro', ['--bind', `${dir}:/work/data:ro`]);
    assert.is(ro.text, 'from the host\nro\n', ro.stderr);
    const rw = await sh('echo written > /work/data/out.txt && echo rw', ['--bind', `${dir}:/work/data`]);
    assert.is(rw.text, 'rw\n', rw.stderr);
    assert.is(readFileSync(join(dir, 'out.txt'), 'utf8'), 'written\n', 'the host sees what the job wrote');
    const file = await sh('cat /work/conf.txt', ['--bind', `${join(dir, 'in.txt')}:/work/conf.txt:ro`]);
    assert.is(file.text, 'from the host\n', file.stderr);
    const state = await sh('true', ['--bind', `${join(box.home, 'state')}:/work/s:ro`]);
    assert.is(state.code, 2);
    assert.match(state.stderr, /holds the host key.*\[INVALID_SPEC\]/);
    const user = join(box.home, 'bind-user.yml');
    assert.is((await herd(['cert', 'issue', 'bindy', '--role', 'user', '--out', user], opts)).code, 0);
    const attack = await herd(['run', '--config', user, '--bind', '/etc/shadow:/work/shadow:ro', '--', 'cat', '/work/shadow'], opts);
    assert.is(attack.code, 255, attack.stdout.toString());
    assert.match(attack.stderr, /may not bind host paths into jobs \(--bind\).*\[PERMISSION_DENIED\]/);
    assert.is(attack.stdout.length, 0, 'nothing of the file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Isolation('--pid host: the job sees the host\'s processes but cannot signal them, and what it leaves running ends with it; refused for a user certificate', async () => {
  const r = await sh(`ps -e -o pid= | wc -l; cat /proc/1/comm; kill -0 ${process.pid} 2>/dev/null && echo signalled || echo not-permitted; sleep 300 & echo $!`, ['--pid', 'host']);
  const [count, init, signal, left] = r.text.trim().split('\n');
  assert.ok(Number(count) > 20, `sees the host's processes (${count})`);
  assert.is(init, readFileSync('/proc/1/comm', 'utf8').trim(), 'the host\'s PID 1');
  assert.is(signal, 'not-permitted', 'the test runner is another user\'s process to the job');
  // Killed, it is gone or a zombie until the host's init reaps it.
  const alive = (): boolean => {
    try {
      return !/^\d+ \([^)]*\) Z/.test(readFileSync(`/proc/${left}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 30 && alive(); i++) await sleep(100);
  assert.not.ok(alive(), `the job's sleep ${left} was killed when its command exited`);
  const user = join(box.home, 'pid-user.yml');
  assert.is((await herd(['cert', 'issue', 'piddy', '--role', 'user', '--out', user], opts)).code, 0);
  const attack = await herd(['run', '--config', user, '--pid', 'host', '--', 'ps', '-e'], opts);
  assert.is(attack.code, 255);
  assert.match(attack.stderr, /may not run jobs that see the host's processes \(--pid host\).*\[PERMISSION_DENIED\]/);
  const sandboxed = await sh('ps -e -o pid= | wc -l');
  assert.ok(Number(sandboxed.text.trim()) < 6, 'without it, only the job\'s own');
});

if (enabled) Isolation.run();
