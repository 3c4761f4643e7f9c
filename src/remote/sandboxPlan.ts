import { posix } from 'node:path';
import { HerdError } from '../protocol/errors.ts';
import type { MountEntry } from './mountinfo.ts';

/** An entry of the host's root directory. */
export interface RootEntry {
  name: string;
  kind: 'dir' | 'file' | 'symlink';
  /** for symlinks */
  target?: string;
}

/** Something the agent creates under the job directory before the job starts (no mounts). */
export type SkeletonEntry =
  | { kind: 'dir'; path: string }
  | { kind: 'file'; path: string; content?: string }
  | { kind: 'symlink'; path: string; target: string };

export interface FstabEntry {
  source: string;
  target: string;
  type: string;
  options: string;
}

export interface SandboxPlan {
  /** Relative to the job directory, in creation order. */
  skeleton: SkeletonEntry[];
  /** Applied in order by `mount -a -T` inside the job's mount namespace. */
  fstab: FstabEntry[];
}

export interface SandboxContext {
  jobDir: string;
  hostname: string;
  /** herd's state directory on the host: hidden from the job (it holds the host key). */
  stateDir: string;
  /** Size of the job's /tmp tmpfs, in bytes. */
  tmpBytes: number;
  /**
   * In a user namespace the kernel refuses a non-recursive bind of a directory whose submounts
   * are locked (it would reveal what they cover), so rootless jobs bind recursively. That grants
   * nothing: file access there stays bounded by the invoking user's own permissions.
   */
  recursive: boolean;
  /** A network's hosts file, bound read-only as the job's /etc/hosts. */
  etcHosts?: string;
  /** A network's resolv.conf (its --dns servers), bound read-only as the job's /etc/resolv.conf. */
  etcResolv?: string;
  /**
   * Which of /etc/hostname, /etc/hosts and /etc/resolv.conf the host has as regular files: a bind
   * mount needs an existing target (a minimal Debian has no /etc/hosts), and must not follow a symlink.
   */
  etcFiles: ReadonlySet<string>;
  /**
   * When the host's /etc/resolv.conf is a symlink into a directory the job gets fresh (/run or
   * /tmp, as with systemd-resolved), the job's copy of the file it points to: the symlink then
   * resolves inside the job. Content: the network's --dns servers, else the host's.
   */
  resolvLink?: { target: string; content: string };
}

/** Default size cap of a job's /tmp (and /dev/shm). */
export const DEFAULT_TMP_BYTES = 256 * 1024 * 1024;

/** Top-level entries the job gets fresh instead of from the host. */
const REPLACED = new Set(['proc', 'sys', 'dev', 'tmp', 'run', 'work']);

/** Filesystems that hold files (as opposed to proc, sysfs, cgroup, nsfs...), whose submounts a job should see. */
const DATA_FILESYSTEMS = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'f2fs', 'vfat', 'exfat', 'ntfs3', 'nfs', 'nfs4', 'cifs', 'fuse.sshfs', 'overlay', '9p', 'virtiofs']);

export const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'] as const;

const RO = 'bind,ro,nosuid,nodev';
const RECURSIVE_RO = 'rbind,ro,nosuid,nodev';

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/**
 * Plans a job's root: the host's root read-only (each top-level directory bound, plus the
 * data filesystems mounted below them), a fresh /proc, a minimal /dev, tmpfs /tmp, /run and
 * /dev/shm, a private writable /work, a per-job /etc/hostname, and herd's state hidden.
 */
export function planSandbox(rootEntries: readonly RootEntry[], mounts: readonly MountEntry[], context: SandboxContext): SandboxPlan {
  const root = posix.join(context.jobDir, 'root');
  const at = (path: string): string => posix.join(root, path);
  const skeleton: SkeletonEntry[] = [{ kind: 'dir', path: 'root' }];
  const fstab: FstabEntry[] = [{ source: root, target: root, type: 'none', options: 'bind,private' }];

  for (const entry of [...rootEntries].sort((a, b) => a.name.localeCompare(b.name))) {
    if (REPLACED.has(entry.name)) continue;
    const path = posix.join('root', entry.name);
    if (entry.kind === 'symlink') {
      skeleton.push({ kind: 'symlink', path, target: entry.target ?? '' });
    } else {
      skeleton.push(entry.kind === 'dir' ? { kind: 'dir', path } : { kind: 'file', path });
      fstab.push({ source: `/${entry.name}`, target: at(entry.name), type: 'none', options: context.recursive ? RECURSIVE_RO : RO });
    }
  }
  const topLevel = new Set(rootEntries.filter((e) => e.kind === 'dir' && !REPLACED.has(e.name)).map((e) => `/${e.name}`));
  const deeper = (context.recursive ? [] : mounts)
    .filter((m) => DATA_FILESYSTEMS.has(m.fsType) && m.mountPoint.split('/').length > 2)
    .filter((m) => [...topLevel].some((dir) => under(m.mountPoint, dir)) && !under(m.mountPoint, context.stateDir))
    .map((m) => m.mountPoint)
    .sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
  for (const mountPoint of [...new Set(deeper)]) fstab.push({ source: mountPoint, target: at(mountPoint), type: 'none', options: RO });

  for (const dir of ['proc', 'sys', 'dev', 'tmp', 'run', 'work']) skeleton.push({ kind: 'dir', path: posix.join('root', dir) });
  skeleton.push({ kind: 'dir', path: 'work' }, { kind: 'dir', path: 'dev' });
  for (const device of DEVICES) skeleton.push({ kind: 'file', path: posix.join('dev', device) });
  skeleton.push({ kind: 'dir', path: 'dev/pts' }, { kind: 'dir', path: 'dev/shm' }, { kind: 'symlink', path: 'dev/ptmx', target: 'pts/ptmx' });
  skeleton.push({ kind: 'file', path: 'hostname', content: `${context.hostname}\n` });

  const size = `size=${context.tmpBytes}`;
  fstab.push(
    { source: 'proc', target: at('proc'), type: 'proc', options: 'nosuid,nodev,noexec' },
    // Not recursive: the host's cgroup and other pseudo filesystems under /sys stay out of reach.
    { source: '/sys', target: at('sys'), type: 'none', options: `${context.recursive ? 'rbind' : 'bind'},ro,nosuid,nodev,noexec` },
    { source: posix.join(context.jobDir, 'dev'), target: at('dev'), type: 'none', options: 'bind,nosuid,noexec' },
    ...DEVICES.map((d) => ({ source: `/dev/${d}`, target: at(`dev/${d}`), type: 'none', options: 'bind' })),
    { source: 'devpts', target: at('dev/pts'), type: 'devpts', options: 'newinstance,ptmxmode=0666,mode=620,nosuid,noexec' },
    { source: 'herd-shm', target: at('dev/shm'), type: 'tmpfs', options: `nosuid,nodev,${size}` },
    { source: 'herd-tmp', target: at('tmp'), type: 'tmpfs', options: `nosuid,nodev,mode=1777,${size}` },
    { source: 'herd-run', target: at('run'), type: 'tmpfs', options: 'nosuid,nodev,mode=755,size=4m' },
    { source: posix.join(context.jobDir, 'work'), target: at('work'), type: 'none', options: 'bind,nosuid,nodev' },
  );
  const etc = (name: string, source: string | undefined): void => {
    if (source !== undefined && context.etcFiles.has(name)) fstab.push({ source, target: at(`etc/${name}`), type: 'none', options: 'bind,ro' });
  };
  if (context.resolvLink !== undefined) {
    skeleton.push(
      { kind: 'dir', path: 'resolve' },
      { kind: 'file', path: posix.join('resolve', posix.basename(context.resolvLink.target)), content: context.resolvLink.content },
    );
    // After the job's /run tmpfs (above); X-mount.mkdir makes the directories inside it.
    fstab.push({ source: posix.join(context.jobDir, 'resolve'), target: at(posix.dirname(context.resolvLink.target)), type: 'none', options: 'bind,ro,X-mount.mkdir' });
  }
  etc('hostname', posix.join(context.jobDir, 'hostname'));
  etc('hosts', context.etcHosts);
  etc('resolv.conf', context.etcResolv);
  if ([...topLevel].some((dir) => under(context.stateDir, dir))) {
    // The state directory holds the host key: the job sees an empty, read-only directory there.
    fstab.push({ source: 'herd-hidden', target: at(context.stateDir), type: 'tmpfs', options: 'ro,nosuid,nodev,noexec,size=4k' });
  }
  return { skeleton, fstab };
}

/** fstab(5) fields are separated by white space, which paths must escape as octal. */
function escapeField(field: string): string {
  if (field.includes('\n')) throw new HerdError('INVALID_SPEC', `a mount path contains a newline: ${JSON.stringify(field)}`);
  return field.replace(/[\\ \t]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

export function renderFstab(entries: readonly FstabEntry[]): string {
  return entries.map((e) => `${escapeField(e.source)} ${escapeField(e.target)} ${e.type} ${e.options} 0 0\n`).join('');
}
