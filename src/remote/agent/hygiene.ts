import { closeSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';

/** O_CLOEXEC as /proc/PID/fdinfo prints open flags (octal). */
const O_CLOEXEC = 0o2000000;

/**
 * Closes every descriptor above 2 that the helper inherited from whoever started it (an SSH
 * session, a shell, the herd CLI's own parent): left open, each would reach the agent, the
 * supervisor and every job. The runtime's own descriptors (event loop, signals, timers) are all
 * opened close-on-exec; an inherited one is not, and that is how /proc/self/fdinfo tells them apart.
 */
export function closeInheritedDescriptors(): void {
  let names: string[];
  try {
    names = readdirSync('/proc/self/fdinfo');
  } catch {
    return; // no /proc: nothing to go by
  }
  for (const name of names) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd <= 2) continue;
    try {
      const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
      if (flags === undefined || (parseInt(flags, 8) & O_CLOEXEC) !== 0) continue;
      closeSync(fd);
    } catch {
      // the directory's own descriptor, already closed
    }
  }
}

/**
 * herd's state directory holds the helper that root runs, the host key and every job: it must be a
 * real directory of the user running the helper, mode 0700 (bootstrap.sh checks the same first).
 */
export function checkStateDirectory(dir: string): void {
  const stat = lstatSync(dir);
  const uid = process.getuid?.() ?? stat.uid;
  // Above it, root's or ours, and sticky where others may write (as /tmp): nobody else can swap it.
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    const above = statSync(parent);
    const othersWrite = (above.mode & 0o022) !== 0 && (above.mode & 0o1000) === 0;
    if ((above.uid !== 0 && above.uid !== uid) || othersWrite) {
      throw new HerdError('STATE_UNSAFE', `${parent}, above the state directory ${dir}, may be changed by another user (owner uid ${above.uid}, mode ${(above.mode & 0o7777).toString(8).padStart(4, '0')})`, {
        hint: 'keep herd\'s state under directories only root and you can change',
      });
    }
    if (parent === dirname(parent)) break;
  }
  if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o077) !== 0) {
    const what = stat.isSymbolicLink() ? 'is a symlink' : `has owner uid ${stat.uid} and mode ${(stat.mode & 0o7777).toString(8).padStart(4, '0')}`;
    throw new HerdError('STATE_UNSAFE', `the state directory ${dir} ${what}: it must be a directory of uid ${uid} with mode 0700`, {
      hint: `chmod 700 ${dir} if it is yours; remove it if it is not`,
    });
  }
}
