import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { detectHierarchy, type Hierarchy } from '../../../../src/remote/cgroups/hierarchy.ts';
import { parseMountinfo } from '../../../../src/remote/system/mountinfo.ts';

const HYBRID = parseMountinfo(
  [
    '31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755',
    '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct',
    '33 31 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
    '34 31 0:31 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids',
    '35 31 0:32 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio',
    '36 31 0:33 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset',
    '37 31 0:34 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw',
  ].join('\n'),
);
const V2 = parseMountinfo('30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate');
const files = (map: Record<string, string>) => (path: string) => map[path] ?? null;

test('detection: a hybrid host whose cgroup2 has no memory controller is v1, co-mounted controllers resolved', () => {
  const h = detectHierarchy(HYBRID, files({ '/sys/fs/cgroup/unified/cgroup.controllers': 'hugetlb\n' }));
  assert.is(h?.version, 1);
  const mounts = (h as Extract<Hierarchy, { version: 1 }>).mounts;
  assert.is(mounts.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct');
  assert.is(mounts.get('cpuacct'), '/sys/fs/cgroup/cpu,cpuacct');
  assert.is(mounts.get('memory'), '/sys/fs/cgroup/memory');
  const v2 = detectHierarchy(V2, files({ '/sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n' }));
  assert.equal(v2?.version, 2);
  assert.is(detectHierarchy([], files({})), null);
});

test.run();
