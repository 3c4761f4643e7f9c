import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { up, type Testbed } from '../../fixtures/testbed/testbed.ts';
import { configureHerd } from '../../bench/testbedClient.ts';
import { gate, herd } from './harness.ts';

/*
 * The testbed's own promise: a host that goes down takes every process it started with it, also
 * the jobs that left its network namespace (a job network) and were reparented to pid 1, and the
 * cgroups of those jobs. The limits suite counts herd cgroups on the whole machine; a leak here
 * would fail it, far from its cause.
 */
const Teardown = suite('testbed teardown leaves nothing behind');
const enabled = gate('testbedTeardown.test.ts', { root: true, commands: ['sshd', 'ip', 'nsenter'] });
let bed: Testbed | undefined;

Teardown.after(() => bed?.down());

const herdCgroups = (): string[] => (existsSync('/sys/fs/cgroup/memory/herd') ? readdirSync('/sys/fs/cgroup/memory/herd').filter((n) => /^[0-9a-f]{12}$/.test(n)) : []);

/** Processes on this machine whose command line is `argv` (the program possibly by its full path). */
function processesRunning(argv: string[]): number[] {
  const wanted = argv.slice(1).join('\0');
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((pid) => {
    try {
      const [program = '', ...args] = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '').split('\0');
      return program.split('/').pop() === argv[0] && args.join('\0') === wanted;
    } catch {
      return false;
    }
  }).map(Number);
}

Teardown('detached jobs in job networks, and their cgroups, go with their hosts', async () => {
  bed = await up(2);
  configureHerd(bed);
  const marker = ['sleep', `${4000 + Math.floor(Math.random() * 1000)}`];
  for (const host of ['h1', 'h2']) {
    const r = await herd(['run', '-H', host, '--accept-new', '--detach', '--', ...marker], { home: bed.home, timeoutMs: 60_000 });
    assert.is(r.code, 0, r.stderr);
  }
  const jobs = processesRunning(marker);
  assert.is(jobs.length, 2, 'both jobs run');
  for (const pid of jobs) {
    const netns = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    assert.match(netns, /:memory:\/herd\/[0-9a-f]{12}/, 'each job has its own cgroup');
  }
  const cgroupsBefore = herdCgroups();
  bed.down();
  bed = undefined;
  assert.equal(processesRunning(marker), [], 'no job outlives its host');
  const left = herdCgroups().filter((id) => cgroupsBefore.includes(id));
  assert.equal(left, [], `cgroups left: ${left.join(' ')}`);
});

if (enabled) Teardown.run();
