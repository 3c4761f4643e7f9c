import { mountOf, type MountEntry } from '../system/mountinfo.ts';

/** One line of the job's fstab (fstab(5)), as mount -a -T applies it in the job's mount namespace. */
export interface FstabEntry {
  source: string;
  target: string;
  type: string;
  options: string;
}

/** The per-mount flags herd uses (mount(8)); each is off unless named. */
export interface MountFlags {
  ro?: boolean;
  nosuid?: boolean;
  nodev?: boolean;
  noexec?: boolean;
}

const FLAG_ORDER = ['ro', 'nosuid', 'nodev', 'noexec'] as const;

function flagList(flags: MountFlags): string[] {
  return FLAG_ORDER.filter((flag) => flags[flag] === true);
}

/** The host's own files, read-only and inert: what most of a job's root is made of. */
export const READ_ONLY: MountFlags = { ro: true, nosuid: true, nodev: true };
/** Read-only, inert, and nothing in it runs. */
export const SEALED: MountFlags = { ro: true, nosuid: true, nodev: true, noexec: true };

export interface BindOptions extends MountFlags {
  /** rbind: the submounts below `source` too. */
  recursive?: boolean;
  /** Mount events do not propagate to or from the host (the root's self-bind, before pivot_root). */
  private?: boolean;
  /** Make the target's missing directories first (util-linux X-mount.mkdir). */
  mkdir?: boolean;
}

/** A bind mount of `source` at `target`; mount(8) applies the flags by a remount after the bind. */
export function bind(source: string, target: string, options: BindOptions = {}): FstabEntry {
  const words = [options.recursive === true ? 'rbind' : 'bind', ...(options.private === true ? ['private'] : []), ...flagList(options)];
  if (options.mkdir === true) words.push('X-mount.mkdir');
  return { source, target, type: 'none', options: words.join(',') };
}

export interface TmpfsOptions extends MountFlags {
  /** Octal permissions of its root, e.g. "1777". */
  mode: string;
  /** Bytes, or a size as mount(8) takes it ("4m"). */
  size: number | string;
  /** Host uid and gid its root belongs to (a job's root user, mapped). */
  owner?: { uid: number; gid: number };
}

/** A tmpfs named `name` (what /proc/mounts shows as its source) at `target`. */
export function tmpfs(name: string, target: string, options: TmpfsOptions): FstabEntry {
  const words = [...flagList(options), `mode=${options.mode}`, `size=${options.size}`];
  if (options.owner !== undefined) words.push(`uid=${options.owner.uid}`, `gid=${options.owner.gid}`);
  return { source: name, target, type: 'tmpfs', options: words.join(',') };
}

/** A procfs of the job's own PID namespace. */
export function proc(target: string, flags: MountFlags): FstabEntry {
  return { source: 'proc', target, type: 'proc', options: flagList(flags).join(',') };
}

/** A devpts instance of the job's own: its ptys are not the host's. */
export function devpts(target: string, flags: MountFlags): FstabEntry {
  return { source: 'devpts', target, type: 'devpts', options: ['newinstance', 'ptmxmode=0666', 'mode=620', ...flagList(flags)].join(',') };
}

/**
 * A bind with the flags of the mount its source is on added (ro, nosuid, nodev, noexec): mount(8)
 * applies a bind's flags by a remount, and in a user namespace (rootless jobs) the kernel refuses a
 * remount that would clear a flag the source's mount has (they are locked), so a job's /work on a
 * noexec home failed to mount. A bind never gains what its source has not.
 */
export function keepingSourceFlags(entry: FstabEntry, mounts: readonly MountEntry[]): FstabEntry {
  if (entry.type !== 'none' || !entry.source.startsWith('/')) return entry;
  const source = mountOf(mounts, entry.source);
  if (source === undefined) return entry;
  const words = entry.options.split(',');
  const added = FLAG_ORDER.filter((flag) => source.mountOptions.includes(flag) && !words.includes(flag));
  return added.length === 0 ? entry : { ...entry, options: [...words, ...added].join(',') };
}
