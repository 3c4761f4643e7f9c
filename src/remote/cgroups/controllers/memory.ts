import type { Controller } from './controller.ts';
import { field } from './controller.ts';

export const MIN_MEMORY_BYTES = 4 * 1024 * 1024;

const oomKills = (text: string): { oomKilled: boolean } => ({ oomKilled: (field(text, 'oom_kill') ?? 0) > 0 });

/** Memory (--max-memory), with no swap beyond it; the peak used and whether the OOM killer struck. */
export const memory: Controller = {
  v1: 'memory',
  v2: 'memory',
  limits: ['memoryBytes'],
  planV1(dirOf, { limits, facts }) {
    const dir = dirOf('memory');
    if (dir === undefined) return {};
    const writes = [];
    if (limits.memoryBytes !== undefined) {
      writes.push({ path: `${dir}/memory.limit_in_bytes`, value: String(limits.memoryBytes) });
      // memory+swap no higher than memory: no swapping beyond the limit. It must not be below it, so it comes second.
      if (facts.v1Memsw === true) writes.push({ path: `${dir}/memory.memsw.limit_in_bytes`, value: String(limits.memoryBytes) });
    }
    return {
      writes,
      usage: [
        { kind: 'memory.max_usage_in_bytes', path: `${dir}/memory.max_usage_in_bytes` },
        { kind: 'memory.oom_control', path: `${dir}/memory.oom_control` },
      ],
    };
  },
  planV2(dir, { limits, facts }) {
    const writes = [];
    if (limits.memoryBytes !== undefined) {
      writes.push({ path: `${dir}/memory.max`, value: String(limits.memoryBytes) });
      if (facts.v2Swap === true) writes.push({ path: `${dir}/memory.swap.max`, value: '0' });
    }
    return {
      writes,
      usage: [
        { kind: 'memory.peak', path: `${dir}/memory.peak` },
        { kind: 'memory.events', path: `${dir}/memory.events` },
      ],
    };
  },
  read: {
    'memory.max_usage_in_bytes': (text) => ({ peakMemoryBytes: Number(text.trim()) }),
    'memory.peak': (text) => ({ peakMemoryBytes: Number(text.trim()) }),
    'memory.oom_control': oomKills,
    'memory.events': oomKills,
  },
};
