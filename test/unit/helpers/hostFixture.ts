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
