/** One line of /proc/self/mountinfo (proc(5)), the fields we use. */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  /** major:minor of the filesystem's device */
  device: string;
  /** Per-superblock options: for cgroup v1 they name the controllers. */
  superOptions: string[];
  /** Per-mount options (ro, nosuid, nodev, noexec, relatime...). */
  mountOptions: string[];
}

/** The kernel escapes space, tab, newline and backslash in paths as \ooo octal. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/*
 * Layout: id parent major:minor root mount-point options [optional fields...] - fstype source super-options
 * The optional fields are variable in number, so the fstype is found after the "-" separator.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (fields.length < 10 || dash < 0) continue;
    entries.push({
      mountPoint: unescape(fields[4]!),
      device: fields[2]!,
      fsType: fields[dash + 1]!,
      source: unescape(fields[dash + 2]!),
      superOptions: (fields[dash + 3] ?? '').split(','),
      mountOptions: fields[5]!.split(','),
    });
  }
  return entries;
}

/** The mount that holds `path` (an absolute path without symlinks): the one with the longest mount point above it. */
export function mountOf(mounts: readonly MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    const above = m.mountPoint === '/' || path === m.mountPoint || path.startsWith(`${m.mountPoint}/`);
    if (above && (best === undefined || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}
