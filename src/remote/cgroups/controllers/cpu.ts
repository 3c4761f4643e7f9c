import type { Controller } from './controller.ts';
import { field } from './controller.ts';

/** cpu.cfs_period_us / cpu.max period: 100 ms, the kernel's default. */
export const CPU_PERIOD_US = 100_000;

/** CPU time: a share of the CPUs (--max-cpu) and the time the job used (v1: cpu and cpuacct; v2: cpu). */
export const cpu: Controller = {
  v1: 'cpu',
  v2: 'cpu',
  limits: ['cpuPercent'],
  planV1(dirOf, { limits }) {
    const dir = dirOf('cpu');
    const usageDir = dirOf('cpuacct');
    return {
      writes:
        limits.cpuPercent === undefined || dir === undefined
          ? []
          : [
              { path: `${dir}/cpu.cfs_period_us`, value: String(CPU_PERIOD_US) },
              { path: `${dir}/cpu.cfs_quota_us`, value: String((limits.cpuPercent * CPU_PERIOD_US) / 100) },
            ],
      usage: usageDir === undefined ? [] : [{ kind: 'cpuacct.usage', path: `${usageDir}/cpuacct.usage` }],
    };
  },
  planV2(dir, { limits }) {
    return {
      writes: limits.cpuPercent === undefined ? [] : [{ path: `${dir}/cpu.max`, value: `${(limits.cpuPercent * CPU_PERIOD_US) / 100} ${CPU_PERIOD_US}` }],
      usage: [{ kind: 'cpu.stat', path: `${dir}/cpu.stat` }],
    };
  },
  read: {
    'cpuacct.usage': (text) => ({ cpuMs: Math.round(Number(text.trim()) / 1e6) }),
    'cpu.stat': (text) => {
      const micros = field(text, 'usage_usec');
      return micros === undefined ? {} : { cpuMs: Math.round(micros / 1000) };
    },
  },
};
