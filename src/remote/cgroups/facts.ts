import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Hierarchy } from './hierarchy.ts';
import { parseCpuList } from '../../shared/cpuList.ts';
import type { CgroupFacts } from './plan.ts';

export function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** "0-3,6\n" as the kernel writes it in .../cpu/online: the same list syntax --cpu-cores takes. */
export function expandCpuList(text: string): number[] {
  return parseCpuList(text.trim(), '/sys/devices/system/cpu/online');
}

/** major and minor of a dev_t, as glibc's gnu_dev_major/minor split it. */
export function splitDevice(dev: number): { major: number; minor: number } {
  const high = Math.floor(dev / 2 ** 32);
  const low = dev % 2 ** 32;
  return { major: ((low >>> 8) & 0xfff) | (high & ~0xfff), minor: (low & 0xff) | ((low >>> 12) & ~0xff) };
}

/**
 * The whole disk behind a directory: I/O limits apply to a disk, not a partition, and a
 * filesystem with no block device (tmpfs, overlay; major 0) cannot be limited at all.
 */
export function diskBehind(path: string): CgroupFacts['ioDevice'] {
  const { major, minor } = splitDevice(statSync(path).dev);
  if (major === 0) return { problem: `${path} is on a filesystem with no block device (tmpfs, overlay or similar), so its I/O cannot be limited` };
  const sys = `/sys/dev/block/${major}:${minor}`;
  if (!existsSync(sys)) return { problem: `${path} is on device ${major}:${minor}, which is not a block device` };
  if (existsSync(`${sys}/partition`)) {
    const disk = dirname(realpathSync(sys));
    const device = readText(`${disk}/dev`)?.trim();
    return device === undefined ? { problem: `cannot find the disk of partition ${basename(realpathSync(sys))}` } : { device };
  }
  return { device: `${major}:${minor}` };
}

export function readCgroupFacts(hierarchy: Hierarchy | null, workDir: string): CgroupFacts {
  const facts: CgroupFacts = {
    onlineCpus: expandCpuList(readText('/sys/devices/system/cpu/online') ?? '0'),
    ioDevice: diskBehind(workDir),
  };
  if (hierarchy?.version === 1) {
    const cpuset = hierarchy.mounts.get('cpuset');
    if (cpuset !== undefined) {
      facts.v1Cpuset = { cpus: readText(`${cpuset}/cpuset.cpus`)?.trim() ?? '', mems: readText(`${cpuset}/cpuset.mems`)?.trim() ?? '0' };
    }
    const memory = hierarchy.mounts.get('memory');
    facts.v1Memsw = memory !== undefined && existsSync(`${memory}/memory.memsw.limit_in_bytes`);
  } else if (hierarchy?.version === 2) {
    // memory.swap.max exists in non-root cgroups only when swap accounting is on: look at an existing one.
    facts.v2Swap = existsSync(`${hierarchy.root}/init.scope/memory.swap.max`) || existsSync(`${hierarchy.root}/system.slice/memory.swap.max`);
  }
  return facts;
}
