import type { Controller } from './controller.ts';

/** Which CPUs the job runs on (--cpu-cores). */
export const cpuset: Controller = {
  v1: 'cpuset',
  v2: 'cpuset',
  limits: ['cpuCores'],
  planV1(dirOf, { limits, facts }, mountOf) {
    const dir = dirOf('cpuset');
    if (dir === undefined) return {};
    // A v1 cpuset cgroup starts with no CPUs and no memory nodes, and takes no task until it has both.
    const root = facts.v1Cpuset ?? { cpus: facts.onlineCpus.join(','), mems: '0' };
    const parent = `${mountOf('cpuset')}/herd`;
    return {
      prepare: [
        { path: `${parent}/cpuset.cpus`, value: root.cpus },
        { path: `${parent}/cpuset.mems`, value: root.mems },
        { path: `${dir}/cpuset.cpus`, value: root.cpus },
        { path: `${dir}/cpuset.mems`, value: root.mems },
      ],
      writes: limits.cpuCores === undefined ? [] : [{ path: `${dir}/cpuset.cpus`, value: limits.cpuCores }],
    };
  },
  planV2(dir, { limits }) {
    return { writes: limits.cpuCores === undefined ? [] : [{ path: `${dir}/cpuset.cpus`, value: limits.cpuCores }] };
  },
  read: {},
};
