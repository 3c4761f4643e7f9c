import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { memory } from '../../../../../src/remote/cgroups/controllers/memory.ts';

test('memory usage: the peak, and an OOM kill from oom_kill in memory.events or memory.oom_control', () => {
  assert.equal(memory.read['memory.peak']!('1048576\n', { kind: 'memory.peak', path: '' }), { peakMemoryBytes: 1048576 });
  assert.equal(memory.read['memory.events']!('low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n', { kind: 'memory.events', path: '' }), { oomKilled: true });
  assert.equal(memory.read['memory.oom_control']!('oom_kill_disable 0\nunder_oom 0\noom_kill 0\n', { kind: 'memory.oom_control', path: '' }), { oomKilled: false });
});

test('memory limits: memsw after memory on v1, no swap on v2, only where the host accounts swap', () => {
  const facts = { onlineCpus: [0], ioDevice: { device: '254:0' }, v1Memsw: true, v2Swap: false };
  const v1 = memory.planV1(() => '/m/j', { limits: { memoryBytes: 10 }, facts, device: null }, () => '/m');
  assert.equal(v1.writes?.map((w) => w.path), ['/m/j/memory.limit_in_bytes', '/m/j/memory.memsw.limit_in_bytes']);
  assert.equal(memory.planV2('/c/j', { limits: { memoryBytes: 10 }, facts, device: null }).writes, [{ path: '/c/j/memory.max', value: '10' }]);
});

test.run();
