import { execFileSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bootVm, ensureImage, type RunningVm } from '../../fixtures/vm/vm.ts';
import { gate, herd, loud, tempHome } from './harness.ts';

/*
 * Limits on a cgroup-v2 host: a Debian VM under qemu with systemd and real v2 controllers. The VM
 * emulates its CPU (no KVM here), so each run takes a while: these tests are few and focused.
 */
const V2 = suite('resource limits on a cgroup v2 host (qemu)');
const enabled = gate('cgroup2.test.ts', { root: true, commands: ['qemu-system-x86_64', 'debootstrap', 'busybox', 'cpio', 'mkfs.ext4'] });
const box = tempHome('cgroup2');
let vm: RunningVm | undefined;
let target = '';

V2.before(loud(async () => {
  vm = await bootVm(ensureImage());
  copyFileSync(vm.clientKey, join(box.home, '.ssh', 'id_ed25519'));
  target = `root@127.0.0.1:${vm.port}`;
  // An emulated CPU: node's first start there (helper and agent) takes far longer than on real hosts.
  const first = await herd(['run', '-H', target, '--accept-new', '--handshake-timeout', '150s', '--json', '--', 'true'], { home: box.home, timeoutMs: 200_000 });
  process.stdout.write(`    first contact: ${JSON.stringify(first.json<{ hosts: Array<{ connection?: unknown }> }>().hosts[0]?.connection ?? null)}\n`);
  if (first.code !== 0) {
    // What the host's agent said, so a failure here can be read from CI's log alone.
    let agentLog = '';
    try {
      agentLog = onHost('tail -n 40 /var/lib/herd/agent.log 2>&1 || true');
    } catch (err) {
      agentLog = (err as Error).message;
    }
    assert.unreachable(`first run failed (${first.code}):\n${first.stderr}\n${first.stdout}\nagent.log:\n${agentLog}`);
  }
}));

V2.after(async () => {
  await vm?.stop();
  box.remove();
});

interface Host {
  stdout: string;
  error: { code: string; message: string } | null;
  result: { jobId: string; exitCode: number; oomKilled: boolean; usage?: { cpuMs?: number; peakMemoryBytes?: number; writeBytes?: number } } | null;
}
const run = async (flags: string[], argv: string[]): Promise<Host> => {
  const r = await herd(['run', '--json', '-H', target, ...flags, '--', ...argv], { home: box.home, timeoutMs: 120_000 });
  return r.json<{ hosts: Host[] }>().hosts[0]!;
};
/** A command on the VM itself, outside any job, through the system's ssh. */
const onHost = (command: string): string =>
  execFileSync('ssh', ['-F', 'none', '-i', vm!.clientKey, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-p', String(vm!.port), 'root@127.0.0.1', command], { encoding: 'utf8' });

V2('the host is cgroup v2, and a job sees only its own cgroup (a namespace rooted at it)', async () => {
  assert.match(onHost('cat /sys/fs/cgroup/cgroup.controllers'), /\bmemory\b.*|\bcpu\b/);
  const host = await run([], ['cat', '/proc/self/cgroup']);
  assert.is(host.stdout, '0::/\n', 'one v2 line, rooted at the job\'s cgroup');
  assert.ok(host.result?.usage?.cpuMs !== undefined, 'usage comes from cpu.stat');
});

V2('memory: past --max-memory the job is OOM-killed (memory.max, memory.events)', async () => {
  const host = await run(['--max-memory', '32M'], ['timeout', '60', 'tail', '/dev/zero']);
  assert.is(host.result?.exitCode, 137);
  assert.is(host.result?.oomKilled, true);
  assert.ok((host.result?.usage?.peakMemoryBytes ?? 0) <= 32 * 1024 * 1024, `peak ${host.result?.usage?.peakMemoryBytes}`);
});

V2('CPU: a 2 s busy loop under --max-cpu 50 uses about 1 s (cpu.max)', async () => {
  // The loop's own CPU time, from the shell's `times` (its children's user and system time): the job's
  // total also counts its setup (mounts), which under emulation on a busy machine took up to ~900 ms more.
  const host = await run(['--max-cpu', '50'], ['sh', '-c', 'timeout 2 sh -c "while :; do :; done"; times']);
  const children = host.stdout.trim().split('\n').at(-1) ?? '';
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
  const loopMs = Math.round(seconds * 1000);
  assert.ok(loopMs >= 700 && loopMs <= 1300, `the loop used ${loopMs} ms of CPU in 2 s at 50% (times: ${JSON.stringify(host.stdout)})`);
  assert.ok((host.result?.usage?.cpuMs ?? -1) >= loopMs, 'the job\'s usage counts the loop');
});

V2('pids: a bounded fork bomb under --max-pids 20 is contained (pids.max)', async () => {
  const host = await run(['--max-pids', '20'], ['sh', '-c', '(i=0; while [ $i -lt 100 ]; do sleep 3 & i=$((i+1)); done) 2>/dev/null; set -- /proc/[0-9]*; echo $#']);
  const count = Number(host.stdout.trim());
  assert.ok(count > 5 && count <= 20, `${count} processes (limit 20)`);
});

V2('I/O: direct writes under --max-write-bps 1M on the virtio disk take as long as the limit implies (io.max)', async () => {
  const started = Date.now();
  const host = await run(['--max-write-bps', '1M'], ['dd', 'if=/dev/zero', 'of=/work/f', 'bs=64k', 'count=48', 'oflag=direct']);
  const seconds = (Date.now() - started) / 1000;
  assert.is(host.result?.exitCode, 0);
  assert.ok(seconds >= 2.4, `3 MiB at 1 MiB/s took ${seconds.toFixed(1)} s`);
  assert.is(host.result?.usage?.writeBytes, 3 * 1024 * 1024);
});

V2('devices: an eBPF allow list on the job\'s cgroup; a host-root process that joins it cannot open the disk', async () => {
  const started = await herd(['run', '--json', '-H', target, '--detach', '--', 'sleep', '60'], { home: box.home, timeoutMs: 120_000 });
  const jobId = started.json<{ hosts: Array<{ jobId?: string }> }>().hosts[0]?.jobId;
  assert.ok(jobId !== undefined, started.stdout + started.stderr);
  try {
    const probe = [
      `echo $$ > /sys/fs/cgroup/herd/${jobId}/cgroup.procs || exit 9`,
      '( exec 3</dev/null ) 2>/dev/null && echo null',
      '( exec 3</dev/vda ) 2>/dev/null && echo vda',
      '( exec 3</dev/kmsg ) 2>/dev/null && echo kmsg',
      '( mknod /tmp/herd-null c 1 3 ) 2>/dev/null && { rm -f /tmp/herd-null; echo mknod; }',
      'true',
    ].join('; ');
    assert.is(onHost(`sh -c '${probe}'`), 'null\n', 'only the job\'s own devices open');
    const status = await herd(['job', 'status', '-H', target, jobId!], { home: box.home, timeoutMs: 120_000 });
    assert.match(status.text, /^devices +allow list \(cgroup v2 eBPF\)$/m);
  } finally {
    await herd(['job', 'stop', '-H', target, jobId!], { home: box.home, timeoutMs: 120_000 });
  }
});

V2('after a job its cgroup is killed and removed; herd enabled the controllers it needed', async () => {
  const host = await run(['--max-memory', '64M'], ['true']);
  assert.is(onHost(`test -e /sys/fs/cgroup/herd/${host.result!.jobId} && echo left || echo gone`), 'gone\n');
  assert.match(onHost('cat /sys/fs/cgroup/herd/cgroup.subtree_control'), /cpuset cpu io memory pids/);
});

if (enabled) V2.run();
