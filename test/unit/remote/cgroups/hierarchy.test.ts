import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { detectHierarchy, type Hierarchy } from '../../../../src/remote/cgroups/hierarchy.ts';
import { files, HYBRID, V2 } from '../../helpers/hostFixture.ts';


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
