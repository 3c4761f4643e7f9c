import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { detectHierarchy } from '../../../../src/remote/cgroups/hierarchy.ts';
import { planCgroup, type CgroupFacts } from '../../../../src/remote/cgroups/plan.ts';
import { parseCpuList } from '../../../../src/shared/cpuList.ts';
import { files, HYBRID, V2 } from '../../helpers/hostFixture.ts';
import { codeOf } from '../../helpers/codeOf.ts';

const facts: CgroupFacts = { onlineCpus: [0, 1], ioDevice: { device: '254:0' }, v1Cpuset: { cpus: '0-1', mems: '0' }, v1Memsw: true, v2Swap: true };

test('v1 plan: limits in the right files, memsw after memory, cpuset given cpus and mems, one dir per mount', () => {
  const h = detectHierarchy(HYBRID, files({}))!;
  const plan = planCgroup({ cpuPercent: 50, cpuCores: '1', memoryBytes: 64 << 20, pids: 50, writeBps: 5 << 20 }, h, facts, 'j1')!;
  const writes = Object.fromEntries([...plan.prepare, ...plan.writes].map((w) => [w.path, w.value]));
  assert.is(writes['/sys/fs/cgroup/cpu,cpuacct/herd/j1/cpu.cfs_quota_us'], '50000');
  assert.is(writes['/sys/fs/cgroup/cpu,cpuacct/herd/j1/cpu.cfs_period_us'], '100000');
  assert.is(writes['/sys/fs/cgroup/memory/herd/j1/memory.limit_in_bytes'], String(64 << 20));
  const paths = [...plan.prepare, ...plan.writes].map((w) => w.path);
  assert.ok(paths.indexOf('/sys/fs/cgroup/memory/herd/j1/memory.limit_in_bytes') < paths.indexOf('/sys/fs/cgroup/memory/herd/j1/memory.memsw.limit_in_bytes'));
  assert.is(writes['/sys/fs/cgroup/pids/herd/j1/pids.max'], '50');
  assert.is(writes['/sys/fs/cgroup/blkio/herd/j1/blkio.throttle.write_bps_device'], `254:0 ${5 << 20}`);
  assert.ok(paths.indexOf('/sys/fs/cgroup/cpuset/herd/cpuset.mems') < paths.indexOf('/sys/fs/cgroup/cpuset/herd/j1/cpuset.cpus'), 'the parent cpuset first');
  assert.is(writes['/sys/fs/cgroup/cpuset/herd/j1/cpuset.mems'], '0');
  assert.is(writes['/sys/fs/cgroup/cpuset/herd/j1/cpuset.cpus'], '1', 'the job\'s CPUs replace the root set given first');
  assert.equal(plan.leaves.filter((l) => l.includes('cpu,cpuacct')).length, 1, 'co-mounted cpu and cpuacct share one directory');
  assert.ok(plan.procs.includes('/sys/fs/cgroup/memory/herd/j1/cgroup.procs'));
});

test('v1 plan without limits still gives usage: memory, CPU time, I/O bytes, OOM', () => {
  const h = detectHierarchy(HYBRID, files({}))!;
  const plan = planCgroup({}, h, facts, 'j2')!;
  assert.equal(plan.writes, [], 'no limits written');
  assert.equal(plan.usage.map((u) => u.kind).sort(), ['blkio.throttle.io_service_bytes', 'cpuacct.usage', 'memory.max_usage_in_bytes', 'memory.oom_control']);
  const limited = planCgroup({ memoryBytes: 1 << 30 }, h, facts, 'j2')!;
  assert.equal(limited.leaves, plan.leaves, 'the same shape with or without limits: a spare cgroup can become any job\'s');
});

test('v2 plan: controllers enabled down to the job, cpu.max, memory.max with no swap, io.max on the disk', () => {
  const h = detectHierarchy(V2, files({ '/sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory pids' }))!;
  const plan = planCgroup({ cpuPercent: 250, memoryBytes: 1 << 30, pids: 10, readBps: 1000, writeBps: 2000 }, h, { ...facts, onlineCpus: [0, 1, 2] }, 'j3')!;
  const writes = Object.fromEntries([...plan.prepare, ...plan.writes].map((w) => [w.path, w.value]));
  assert.is(writes['/sys/fs/cgroup/cgroup.subtree_control'], '+memory +pids +cpu +io +cpuset');
  assert.is(writes['/sys/fs/cgroup/herd/cgroup.subtree_control'], '+memory +pids +cpu +io +cpuset');
  assert.is(writes['/sys/fs/cgroup/herd/j3/cpu.max'], '250000 100000');
  assert.is(writes['/sys/fs/cgroup/herd/j3/memory.max'], String(1 << 30));
  assert.is(writes['/sys/fs/cgroup/herd/j3/memory.swap.max'], '0');
  assert.is(writes['/sys/fs/cgroup/herd/j3/pids.max'], '10');
  assert.is(writes['/sys/fs/cgroup/herd/j3/io.max'], '254:0 rbps=1000 wbps=2000');
  assert.equal(plan.procs, ['/sys/fs/cgroup/herd/j3/cgroup.procs']);
});

test('limits the host cannot enforce are refused before anything is created', () => {
  const noIo = detectHierarchy(V2, files({ '/sys/fs/cgroup/cgroup.controllers': 'memory pids' }))!;
  assert.is(codeOf(() => planCgroup({ writeBps: 1 }, noIo, facts, 'j')), 'LIMIT_UNSUPPORTED');
  assert.is(codeOf(() => planCgroup({ cpuPercent: 10 }, noIo, facts, 'j')), 'LIMIT_UNSUPPORTED');
  const h = detectHierarchy(HYBRID, files({}))!;
  assert.is(codeOf(() => planCgroup({ writeBps: 1 }, h, { ...facts, ioDevice: { problem: 'tmpfs' } }, 'j')), 'LIMIT_UNSUPPORTED');
  assert.is(codeOf(() => planCgroup({ memoryBytes: 1 << 30 }, null, facts, 'j')), 'LIMIT_UNSUPPORTED');
  assert.is(planCgroup({}, null, facts, 'j'), null, 'no limits and no hierarchy: run without a cgroup');
});

test('out-of-range values are INVALID_SPEC with the flag and value', () => {
  const h = detectHierarchy(HYBRID, files({}))!;
  assert.is(codeOf(() => planCgroup({ cpuPercent: 201 }, h, facts, 'j')), 'INVALID_SPEC');
  assert.is(codeOf(() => planCgroup({ cpuCores: '0,5' }, h, facts, 'j')), 'INVALID_SPEC');
  assert.is(codeOf(() => planCgroup({ memoryBytes: 1000 }, h, facts, 'j')), 'INVALID_SPEC');
  assert.is(codeOf(() => planCgroup({ pids: 1 }, h, facts, 'j')), 'INVALID_SPEC');
  assert.equal(parseCpuList('0-2,5', 'f'), [0, 1, 2, 5]);
  assert.is(codeOf(() => parseCpuList('2-1', 'f')), 'INVALID_SPEC');
});

test.run();
