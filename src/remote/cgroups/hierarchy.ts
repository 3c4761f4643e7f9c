import type { MountEntry } from '../system/mountinfo.ts';

/** v1 controllers herd uses; each may share a mount with others (e.g. "cpu,cpuacct"). */
export const V1_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'blkio', 'devices'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

export type Hierarchy =
  | { version: 2; root: string; controllers: ReadonlySet<string> }
  | { version: 1; mounts: ReadonlyMap<V1Controller, string> };

/**
 * cgroup v2 when the unified hierarchy offers the memory controller (a v2 host); otherwise the
 * v1 hierarchies that are mounted. A hybrid host like this project's machine mounts cgroup2
 * too, but with no (or only hugetlb) controllers, so it is treated as v1.
 */
export function detectHierarchy(mounts: readonly MountEntry[], readFile: (path: string) => string | null): Hierarchy | null {
  for (const mount of mounts) {
    if (mount.fsType !== 'cgroup2') continue;
    const controllers = new Set((readFile(`${mount.mountPoint}/cgroup.controllers`) ?? '').trim().split(/\s+/).filter(Boolean));
    if (controllers.has('memory')) return { version: 2, root: mount.mountPoint, controllers };
  }
  const v1 = new Map<V1Controller, string>();
  for (const mount of mounts) {
    if (mount.fsType !== 'cgroup') continue;
    for (const option of mount.superOptions) {
      if ((V1_CONTROLLERS as readonly string[]).includes(option) && !v1.has(option as V1Controller)) v1.set(option as V1Controller, mount.mountPoint);
    }
  }
  return v1.size > 0 ? { version: 1, mounts: v1 } : null;
}
