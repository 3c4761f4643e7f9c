import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../../../../src/remote/cgroups/controllers/cpu.ts';

test('cpu usage: nanoseconds of cpuacct.usage and usage_usec of cpu.stat, both as milliseconds', () => {
  assert.equal(cpu.read['cpuacct.usage']!('2500000000\n', { kind: 'cpuacct.usage', path: '' }), { cpuMs: 2500 });
  assert.equal(cpu.read['cpu.stat']!('usage_usec 1500000\nuser_usec 1\n', { kind: 'cpu.stat', path: '' }), { cpuMs: 1500 });
  assert.equal(cpu.read['cpu.stat']!('nr_periods 0\n', { kind: 'cpu.stat', path: '' }), {});
});

test('cpu limit: quota over a 100 ms period; usage read from cpuacct, which may be mounted apart', () => {
  const facts = { onlineCpus: [0, 1], ioDevice: { device: '254:0' } };
  const dirs: Record<string, string> = { cpu: '/cpu/j', cpuacct: '/acct/j' };
  const v1 = cpu.planV1((c) => dirs[c], { limits: { cpuPercent: 150 }, facts, device: null }, () => undefined);
  assert.equal(v1.writes, [{ path: '/cpu/j/cpu.cfs_period_us', value: '100000' }, { path: '/cpu/j/cpu.cfs_quota_us', value: '150000' }]);
  assert.equal(v1.usage, [{ kind: 'cpuacct.usage', path: '/acct/j/cpuacct.usage' }]);
});

test.run();
