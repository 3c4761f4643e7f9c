import { parseMountinfo } from '../../../src/remote/system/mountinfo.ts';
import type { RootEntry } from '../../../src/remote/sandbox/sandboxPlan.ts';

/** A host's /proc/self/mountinfo: ext4 root, data mounts under /home (one with a space), /var/lib/herd on its own disk, a bind. */
export const MOUNTINFO = [
  '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '23 22 0:21 / /proc rw,nosuid - proc proc rw',
  '24 22 0:22 / /sys rw - sysfs sysfs rw',
  '25 24 0:23 / /sys/fs/cgroup rw - tmpfs tmpfs rw',
  '26 22 254:16 / /home rw shared:5 - ext4 /dev/vdb rw',
  '27 26 254:32 / /home/data\\040set rw master:7 - xfs /dev/vdc rw',
  '28 22 0:25 / /run rw - tmpfs tmpfs rw',
  '29 22 254:48 / /var/lib/herd rw - ext4 /dev/vdd rw',
  '30 22 254:0 /srv /opt/bound rw - ext4 /dev/vda rw',
].join('\n');

/** That host's root directory. */
export const ROOT: RootEntry[] = [
  { name: 'bin', kind: 'symlink', target: 'usr/bin' },
  { name: 'usr', kind: 'dir' },
  { name: 'etc', kind: 'dir' },
  { name: 'home', kind: 'dir' },
  { name: 'var', kind: 'dir' },
  { name: 'opt', kind: 'dir' },
  { name: 'proc', kind: 'dir' },
  { name: 'sys', kind: 'dir' },
  { name: 'tmp', kind: 'dir' },
  { name: 'run', kind: 'dir' },
  { name: 'work', kind: 'dir' },
  { name: 'vmlinuz', kind: 'file' },
];

/** A hybrid host's cgroup mounts: v1 controllers (cpu and cpuacct together), and a cgroup2 without controllers. */
export const HYBRID = parseMountinfo(
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
/** A cgroup v2 host's one mount. */
export const V2 = parseMountinfo('30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate');
/** A readFile over `map`: null for any other path. */
export const files = (map: Record<string, string>) => (path: string) => map[path] ?? null;
