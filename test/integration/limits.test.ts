import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gate, herd, localHome, stopAgents } from './harness.ts';

/*
 * Limits the kernel really enforces, on this machine's cgroup v1 hierarchies. Every test
 * bounds its own worst case (timeouts, bounded loops), so a limit that failed to apply
 * shows up as a failed assertion, never as a machine brought down.
 */
const Limits = suite('resource limits (cgroup v1)');
const enabled = gate('limits.test.ts', { root: true, commands: ['unshare', 'setpriv', 'losetup', 'mkfs.ext4'] });
const box = localHome('limits');
const state = join(box.home, 'state');
const opts = { home: box.home, env: { HERD_STATE_DIR: state }, timeoutMs: 60_000 };

interface Result {
  exitCode: number;
  hosts: Array<{ stdout: string; stderr: string; error: { code: string; message: string } | null; result: { jobId: string; exitCode: number; oomKilled: boolean; usage?: { cpuMs?: number; peakMemoryBytes?: number; writeBytes?: number } } | null }>;
}
const runJson = async (flags: string[], script: string, env: Record<string, string> = opts.env) => {
  const r = await herd(['run', '--json', ...flags, '--', 'sh', '-c', script], { ...opts, env });
  return { code: r.code, doc: r.json<Result>(), host: r.json<Result>().hosts[0]! };
};

const cleanups: Array<() => void> = [];
Limits.after(() => {
  stopAgents(state);
  for (const cleanup of cleanups.reverse()) cleanup();
  box.remove();
});

Limits('a stopped agent leaves no cgroup behind (not even its spare launcher\'s)', async () => {
  stopAgents(state);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const left = existsSync('/sys/fs/cgroup/memory/herd') ? readdirSync('/sys/fs/cgroup/memory/herd').filter((n) => /^[0-9a-f]{12}$/.test(n)) : [];
  assert.equal(left, [], `cgroups left: ${left.join(' ')}`);
});

Limits('memory: a job allocating past --max-memory is OOM-killed and reported as such', async () => {
  // tail keeps every byte while it looks for a newline that /dev/zero never sends.
  const r = await herd(['run', '--max-memory', '32M', '--', 'timeout', '20', 'tail', '/dev/zero'], opts);
  assert.is(r.code, 137, r.stderr);
  assert.match(r.stderr, /job [0-9a-f]{12} ran out of memory \(--max-memory 32 MiB\) and was killed by the kernel's OOM killer/);
  const json = await runJson(['--max-memory', '32M'], 'timeout 20 tail /dev/zero');
  assert.is(json.host.result?.oomKilled, true);
  assert.is(json.host.result?.exitCode, 137);
  assert.ok((json.host.result?.usage?.peakMemoryBytes ?? 0) <= 33 * 1024 * 1024, 'peak memory stayed at the limit');
  const fine = await runJson(['--max-memory', '32M'], 'head -c 1000000 /dev/zero | wc -c');
  assert.is(fine.host.result?.oomKilled, false);
  assert.is(fine.host.stdout, '1000000\n');
});

Limits('CPU: a 2 s busy loop under --max-cpu 50 uses about 1 s of CPU', async () => {
  const { host } = await runJson(['--max-cpu', '50'], 'timeout 2 sh -c "while :; do :; done"; true');
  const cpuMs = host.result?.usage?.cpuMs ?? -1;
  assert.ok(cpuMs >= 700 && cpuMs <= 1300, `used ${cpuMs} ms of CPU in 2 s at 50%`);
  const { host: free } = await runJson([], 'timeout 1 sh -c "while :; do :; done"; true');
  assert.ok((free.result?.usage?.cpuMs ?? 0) >= 800, `without a limit the same loop gets a whole core (${free.result?.usage?.cpuMs} ms in 1 s)`);
});

Limits('pids: a fork bomb under --max-pids 50 is contained', async () => {
  // A bounded bomb: at most 300 sleepers, so a broken limit cannot take the machine down. dash
  // dies on a failed fork, so the bomb runs in a subshell and the parent counts with a glob (no fork).
  const started = Date.now();
  const { host } = await runJson(['--max-pids', '50'], '(i=0; while [ $i -lt 300 ]; do sleep 3 & i=$((i+1)); done) 2>/dev/null; set -- /proc/[0-9]*; echo $#');
  const count = Number(host.stdout.trim());
  assert.ok(count > 10 && count <= 50, `${count} processes at most (limit 50)`);
  assert.ok(Date.now() - started < 30_000, 'the host stayed responsive');
});

Limits('cpuset: --cpu-cores pins the job', async () => {
  const { host } = await runJson(['--cpu-cores', '1'], 'grep Cpus_allowed_list /proc/self/status');
  assert.is(host.stdout.replace(/\s+/g, ' ').trim(), 'Cpus_allowed_list: 1');
});

Limits('I/O: dd oflag=direct under --max-write-bps 5M on a loop device takes as long as the limit implies', async () => {
  const image = join(box.home, 'disk.img');
  const mount = join(box.home, 'loopfs');
  execFileSync('truncate', ['-s', '256M', image]);
  const device = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
  cleanups.push(() => {
    try {
      execFileSync('losetup', ['-d', device]);
    } catch {
      // already detached
    }
  });
  execFileSync('mkfs.ext4', ['-q', device]);
  mkdirSync(mount);
  execFileSync('mount', [device, mount]);
  const loopState = join(mount, 'state');
  cleanups.push(() => {
    stopAgents(loopState);
    try {
      execFileSync('umount', ['-l', mount]);
    } catch {
      // not mounted
    }
  });
  const started = Date.now();
  const { host } = await runJson(['--max-write-bps', '5M'], 'dd if=/dev/zero of=/work/f bs=1M count=15 oflag=direct 2>&1 | tail -1', { HERD_STATE_DIR: loopState });
  const seconds = (Date.now() - started) / 1000;
  assert.is(host.result?.exitCode, 0, host.stdout + host.stderr);
  assert.ok(seconds >= 2.4 && seconds < 10, `15 MiB at 5 MiB/s took ${seconds.toFixed(1)} s (expected about 3)`);
  assert.is(host.result?.usage?.writeBytes, 15 * 1024 * 1024, 'the bytes written were accounted to the job');
  const free = Date.now();
  await runJson([], 'dd if=/dev/zero of=/work/g bs=1M count=15 oflag=direct 2>/dev/null', { HERD_STATE_DIR: loopState });
  assert.ok((Date.now() - free) / 1000 < seconds / 2, 'without the limit the same write is much faster');
});

Limits('malformed and out-of-range limits are INVALID_SPEC errors naming the flag and value', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--max-cpu', 'lots'], /--max-cpu: "lots" must be a whole number/],
    [['--max-memory', '12Q'], /--max-memory: "12Q" is not a size/],
    [['--cpu-cores', '1-x'], /--cpu-cores: "1-x" is not a CPU list/],
    [['--max-cpu', '100000'], /--max-cpu 100000: this host has \d+ CPUs/],
    [['--cpu-cores', '64'], /--cpu-cores 64: CPU 64 is not online on this host/],
    [['--max-pids', '1'], /--max-pids 1: at least 2/],
  ];
  for (const [flags, message] of cases) {
    const r = await herd(['run', ...flags, '--', 'true'], opts);
    assert.match(r.stderr, message, flags.join(' '));
    assert.match(r.stderr, '[INVALID_SPEC]');
    assert.ok(r.code === 2 || r.code === 255, `${flags.join(' ')}: exit ${r.code}`);
  }
});

Limits('a limit the host cannot enforce is an error before the job starts, never a silent no-op', async () => {
  // The state directory here is under /tmp... on a tmpfs there is no block device to throttle.
  const tmpState = join('/dev/shm', `herd-limits-${process.pid}`);
  cleanups.push(() => {
    stopAgents(tmpState);
    rmSync(tmpState, { recursive: true, force: true });
  });
  const r = await herd(['run', '--max-write-bps', '1M', '--', 'sh', '-c', 'echo ran'], { ...opts, env: { HERD_STATE_DIR: tmpState } });
  assert.is(r.code, 255);
  assert.is(r.text, '', 'the command did not run');
  assert.match(r.stderr, /--max-write-bps: .* no block device .*\[LIMIT_UNSUPPORTED\]/);
});

Limits('after the job its cgroups are gone', async () => {
  const { host } = await runJson(['--max-memory', '64M', '--max-cpu', '100', '--max-pids', '100'], 'true');
  const jobId = host.result!.jobId;
  await new Promise((resolve) => setTimeout(resolve, 300));
  for (const controller of ['memory', 'cpu', 'cpuacct', 'pids', 'blkio']) {
    assert.not.ok(existsSync(`/sys/fs/cgroup/${controller}/herd/${jobId}`), `${controller} cgroup removed`);
  }
});

if (enabled) Limits.run();
