import { posix } from 'node:path';
import type { PlannedBind } from './binds.ts';
import { HerdError } from '../../protocol/errors.ts';
import type { MountEntry } from '../system/mountinfo.ts';
import { bind, devpts, keepingSourceFlags, proc, READ_ONLY, SEALED, tmpfs, type FstabEntry } from './mounts.ts';

export type { FstabEntry } from './mounts.ts';

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
  /** A host file linked in (copied where a link cannot be made). */
  | { kind: 'link'; path: string; from: string }
  | { kind: 'file'; path: string; content?: string }
  | { kind: 'symlink'; path: string; target: string };

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
  /**
   * Host uid and gid of the job's root (mapped users): its /tmp, /run and /dev/shm are its own.
   * Absent for rootless jobs, whose tmpfs mounts belong to their user namespace's root already.
   */
  jobRoot?: { uid: number; gid: number };
  /** The agent's herd-seccomp, linked into the job's root as SECCOMP_IN_JOB. */
  seccompLoader?: string;
  /** What of the host is covered up inside the job (see HIDDEN_PATHS), as found on this host. */
  hidden?: readonly HiddenPath[];
  /** A network's hosts file, bound read-only as the job's /etc/hosts. */
  etcHosts?: string;
  /** A network's resolv.conf (its --dns servers), bound read-only as the job's /etc/resolv.conf. */
  etcResolv?: string;
  /** The names in the host's /proc (a job's fresh /proc has the same): only those are made read-only. */
  procEntries?: ReadonlySet<string>;
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
  /** --bind: host paths bound in last, over everything else (checked by checkBinds). */
  binds?: readonly PlannedBind[];
}

/** A host path a job must not see: a file is covered by /dev/null, a directory by an empty read-only tmpfs. */
export interface HiddenPath {
  path: string;
  kind: 'file' | 'dir';
}

/**
 * What a job must not see of the host, wherever it exists (checked once per agent; absent ones are
 * skipped). Kernel interfaces as runc masks them: /proc/kcore (memory), keys, timer and scheduler
 * internals (information leaks), ACPI and firmware tables. Then secrets: every user's home and
 * /root (ssh keys, herd configs with CA keys, other users' rootless herd state), herd's own state
 * directories, shadow passwords, host private keys. Job users are unprivileged host users, so
 * file permissions keep them out of these already; covering them also keeps out what their owners
 * left world-readable.
 */
export const HIDDEN_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/key-users', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/proc/kallsyms', '/proc/kpagecount', '/proc/kpageflags', '/proc/kpagecgroup',
  '/sys/firmware', '/sys/devices/virtual/powercap',
  '/root', '/home', '/var/lib/herd', '/run/herd',
  '/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-', '/etc/ssl/private', '/etc/ssh/ssh_host_rsa_key',
  '/etc/ssh/ssh_host_ecdsa_key', '/etc/ssh/ssh_host_ed25519_key', '/etc/ssh/ssh_host_dsa_key', '/etc/sudoers', '/etc/sudoers.d',
];

/** Kernel interfaces a job may read but not write (runc's read-only paths). */
export const READ_ONLY_PROC = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'] as const;

/** Default size cap of a job's /tmp (and /dev/shm). */
export const DEFAULT_TMP_BYTES = 256 * 1024 * 1024;

/** Top-level entries the job gets fresh instead of from the host. */
const REPLACED = new Set(['proc', 'sys', 'dev', 'tmp', 'run', 'work']);

/** Filesystems that hold files (as opposed to proc, sysfs, cgroup, nsfs...), whose submounts a job should see. */
const DATA_FILESYSTEMS = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'f2fs', 'vfat', 'exfat', 'ntfs3', 'nfs', 'nfs4', 'cifs', 'fuse.sshfs', 'overlay', '9p', 'virtiofs']);

export const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'] as const;

/** The links every /dev has, made in the job's read-only /dev. */
const DEV_LINKS: ReadonlyArray<[string, string]> = [
  ['ptmx', 'pts/ptmx'], ['fd', '/proc/self/fd'], ['stdin', '/proc/self/fd/0'], ['stdout', '/proc/self/fd/1'], ['stderr', '/proc/self/fd/2'],
];


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
  const fstab: FstabEntry[] = [bind(root, root, { private: true })];

  for (const entry of [...rootEntries].sort((a, b) => a.name.localeCompare(b.name))) {
    if (REPLACED.has(entry.name)) continue;
    const path = posix.join('root', entry.name);
    if (entry.kind === 'symlink') {
      skeleton.push({ kind: 'symlink', path, target: entry.target ?? '' });
    } else {
      skeleton.push(entry.kind === 'dir' ? { kind: 'dir', path } : { kind: 'file', path });
      fstab.push(bind(`/${entry.name}`, at(entry.name), { ...READ_ONLY, recursive: context.recursive }));
    }
  }
  const topLevel = new Set(rootEntries.filter((e) => e.kind === 'dir' && !REPLACED.has(e.name)).map((e) => `/${e.name}`));
  const deeper = (context.recursive ? [] : mounts)
    .filter((m) => DATA_FILESYSTEMS.has(m.fsType) && m.mountPoint.split('/').length > 2)
    .filter((m) => [...topLevel].some((dir) => under(m.mountPoint, dir)) && !under(m.mountPoint, context.stateDir))
    .filter((m) => !(context.hidden ?? []).some((h) => h.kind === 'dir' && under(m.mountPoint, h.path)))
    .map((m) => m.mountPoint)
    .sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
  for (const mountPoint of [...new Set(deeper)]) fstab.push(bind(mountPoint, at(mountPoint), READ_ONLY));

  for (const dir of ['proc', 'sys', 'dev', 'tmp', 'run', 'work']) skeleton.push({ kind: 'dir', path: posix.join('root', dir) });
  skeleton.push({ kind: 'dir', path: 'work' }, { kind: 'dir', path: 'dev' });
  for (const device of DEVICES) skeleton.push({ kind: 'file', path: posix.join('dev', device) });
  skeleton.push({ kind: 'dir', path: 'dev/pts' }, { kind: 'dir', path: 'dev/shm' });
  for (const [name, target] of DEV_LINKS) skeleton.push({ kind: 'symlink', path: posix.join('dev', name), target });
  skeleton.push({ kind: 'file', path: 'hostname', content: `${context.hostname}\n` });
  if (context.seccompLoader !== undefined) skeleton.push({ kind: 'link', path: 'root/.herd-seccomp', from: context.seccompLoader });

  const size = context.tmpBytes;
  const owner = context.jobRoot === undefined ? {} : { owner: context.jobRoot };
  const hidden = context.hidden ?? [];
  const cover = (h: HiddenPath): FstabEntry =>
    h.kind === 'file'
      ? bind('/dev/null', at(h.path), { ro: true })
      : tmpfs('herd-hidden', at(h.path), { ...SEALED, mode: '0555', size: '4k' });
  const hide = (prefix: string): FstabEntry[] => hidden.filter((h) => under(h.path, prefix)).map(cover);
  fstab.push(
    proc(at('proc'), { nosuid: true, nodev: true, noexec: true }),
    // Each its own bind, then made read-only: a remount of the whole /proc would change the job's view only.
    ...READ_ONLY_PROC.filter((p) => hidden.every((h) => h.path !== p) && (context.procEntries?.has(posix.basename(p)) ?? true)).map((p) => bind(at(p), at(p), SEALED)),
    ...hide('/proc'),
    // Not recursive: the host's cgroup and other pseudo filesystems under /sys stay out of reach.
    bind('/sys', at('sys'), { ...SEALED, recursive: context.recursive }),
    ...hide('/sys'),
    // A skeleton the job cannot write: no device node can be made in it, nor used from it (nodev);
    // each device is a bind of its own on top.
    bind(posix.join(context.jobDir, 'dev'), at('dev'), SEALED),
    ...DEVICES.map((d) => bind(`/dev/${d}`, at(`dev/${d}`), { nosuid: true, noexec: true })),
    devpts(at('dev/pts'), { nosuid: true, noexec: true }),
    tmpfs('herd-shm', at('dev/shm'), { nosuid: true, nodev: true, noexec: true, mode: '1777', size, ...owner }),
    tmpfs('herd-tmp', at('tmp'), { nosuid: true, nodev: true, mode: '1777', size, ...owner }),
    tmpfs('herd-run', at('run'), { nosuid: true, nodev: true, mode: '755', size: '4m', ...owner }),
    bind(posix.join(context.jobDir, 'work'), at('work'), { nosuid: true, nodev: true }),
  );
  const etc = (name: string, source: string | undefined): void => {
    if (source !== undefined && context.etcFiles.has(name)) fstab.push(bind(source, at(`etc/${name}`), { ro: true }));
  };
  if (context.resolvLink !== undefined) {
    skeleton.push(
      { kind: 'dir', path: 'resolve' },
      { kind: 'file', path: posix.join('resolve', posix.basename(context.resolvLink.target)), content: context.resolvLink.content },
    );
    // After the job's /run tmpfs (above); X-mount.mkdir makes the directories inside it.
    fstab.push(bind(posix.join(context.jobDir, 'resolve'), at(posix.dirname(context.resolvLink.target)), { ro: true, mkdir: true }));
  }
  etc('hostname', posix.join(context.jobDir, 'hostname'));
  etc('hosts', context.etcHosts);
  etc('resolv.conf', context.etcResolv);
  const covered = hidden.filter((h) => !under(h.path, '/proc') && !under(h.path, '/sys') && [...topLevel].some((dir) => under(h.path, dir)));
  if ([...topLevel].some((dir) => under(context.stateDir, dir)) && !covered.some((h) => under(context.stateDir, h.path))) {
    covered.push({ path: context.stateDir, kind: 'dir' });
  }
  // herd's state (the host key, every job's files) and the host's secrets: covered up, parents first.
  for (const h of covered.sort((a, b) => a.path.split('/').length - b.path.split('/').length)) {
    if (covered.some((other) => other.kind === 'dir' && other.path !== h.path && under(h.path, other.path))) continue;
    fstab.push(cover(h));
  }
  // Last, so that they show over the read-only root and the covers: the admin asked for exactly these.
  for (const b of context.binds ?? []) {
    if (b.makeTarget && under(b.job, '/work')) {
      const inWork = posix.join('work', posix.relative('/work', b.job));
      if (b.kind === 'file' && posix.dirname(inWork) !== 'work') skeleton.push({ kind: 'dir', path: posix.dirname(inWork) });
      skeleton.push({ kind: b.kind, path: inWork });
    }
    const fresh = b.makeTarget && !under(b.job, '/work');
    fstab.push(bind(b.host, at(b.job), { ...(b.readOnly ? { ro: true } : {}), nosuid: true, nodev: true, ...(fresh ? { mkdir: true } : {}), recursive: context.recursive }));
  }
  return { skeleton, fstab: fstab.map((entry) => keepingSourceFlags(entry, mounts)) };
}

/** fstab(5) fields are separated by white space, which paths must escape as octal. */
function escapeField(field: string): string {
  if (field.includes('\n')) throw new HerdError('INVALID_SPEC', `a mount path contains a newline: ${JSON.stringify(field)}`);
  return field.replace(/[\\ \t]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

export function renderFstab(entries: readonly FstabEntry[]): string {
  return entries.map((e) => `${escapeField(e.source)} ${escapeField(e.target)} ${e.type} ${e.options} 0 0\n`).join('');
}
