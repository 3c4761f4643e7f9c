import { lstatSync, mkdirSync, realpathSync, type Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, sep } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';

/*
 * The client's private runtime directory (sockets of the --persist daemon, openssh forwards) must
 * be one nobody else can swap: every directory above it is root's or ours and writable by others
 * only if sticky (so no one can rename what is in it), no symlink on the way is someone else's,
 * and the directory itself is a real directory of ours, 0700. Checked with lstat, never by
 * following a link; once it holds, nothing another user does can change what the path names,
 * so the check and the use cannot be raced.
 */

const OTHERS_WRITE = 0o022;
/** S_ISVTX (node's fs.constants has no name for it). */
const STICKY = 0o1000;

function unsafe(path: string, why: string): HerdError {
  return new HerdError('STATE_UNSAFE', `${path} cannot hold herd's private sockets: ${why}`, {
    hint: 'remove it if it is not yours, or set XDG_RUNTIME_DIR to a directory only you can write (e.g. /run/user/$UID)',
  });
}

/** One directory on the way: root's or ours; others may write it only if it is sticky. */
function checkAncestor(path: string, st: Stats, uid: number): void {
  if (st.uid !== 0 && st.uid !== uid) throw unsafe(path, `it belongs to uid ${st.uid}`);
  if ((st.mode & OTHERS_WRITE) !== 0 && (st.mode & STICKY) === 0) throw unsafe(path, `others may write it (mode ${(st.mode & 0o7777).toString(8)}) and it is not sticky`);
}

/** Every prefix of an absolute path, shortest first: /a/b → /, /a, /a/b. */
function prefixes(path: string): string[] {
  const parts = path.split(sep).filter(Boolean);
  return ['/', ...parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)];
}

/** Checks the directories above `dir`, as written and as resolved. */
export function checkAncestors(dir: string, uid: number): void {
  const parent = dirname(dir);
  for (const path of prefixes(parent)) {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) {
      // A link is as safe as its owner and the directory it sits in (checked as the previous prefix).
      if (st.uid !== 0 && st.uid !== uid) throw unsafe(path, `it is a symbolic link of uid ${st.uid}`);
    } else if (!st.isDirectory()) {
      throw unsafe(path, 'it is not a directory');
    } else {
      checkAncestor(path, st, uid);
    }
  }
  for (const path of prefixes(realpathSync(parent))) checkAncestor(path, lstatSync(path), uid);
}

/** Creates (or finds) `dir` as this user's private directory, or says why it cannot be. */
export function privateDirectory(given: string): string {
  const uid = process.getuid?.() ?? 0;
  // A relative XDG_RUNTIME_DIR or TMPDIR is ignored by the spec; here it is refused, not resolved.
  if (!isAbsolute(given)) throw unsafe(given, 'it is not an absolute path');
  let dir: string;
  try {
    checkAncestors(given, uid);
    // Used from now on by its resolved path, whose every component was checked as a real directory:
    // a link on the way (even a chain of them) cannot be retargeted under it later.
    dir = join(realpathSync(dirname(given)), basename(given));
  } catch (err) {
    if (err instanceof HerdError) throw err;
    throw unsafe(given, `a directory above it cannot be examined: ${(err as Error).message}`);
  }
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw unsafe(dir, (err as Error).message);
  }
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) throw unsafe(dir, 'it is a symbolic link');
  if (!st.isDirectory()) throw unsafe(dir, 'it is not a directory');
  if (st.uid !== uid) throw unsafe(dir, `it belongs to uid ${st.uid}, not to you (${uid})`);
  if ((st.mode & 0o077) !== 0) throw unsafe(dir, `its mode is ${(st.mode & 0o777).toString(8)}, not 700`);
  return dir;
}
