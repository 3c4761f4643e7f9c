import { lstatSync, readdirSync, readlinkSync, statSync, type BigIntStats } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import { checkManifest, UPLOAD_MODE_MASK, uploadPathProblem, type UploadEntry, type UploadTotals } from '../../protocol/uploads/manifest.ts';

/** One --upload: a local path and where it lands, relative to the job's /work ('' is /work itself). */
export interface UploadSpec {
  source: string;
  dest: string;
}

/** A file of the upload as found on this machine: what the manifest says, and what the hash cache goes by. */
export interface LocalFile {
  entry: Extract<UploadEntry, { kind: 'file' }>;
  source: string;
  stat: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint };
}

/** Everything one run uploads, walked once before any host is contacted. */
export interface UploadSet {
  entries: UploadEntry[];
  /** The file entries with their local sources, in manifest order. */
  files: LocalFile[];
  totals: UploadTotals;
}

const invalid = (message: string, hint?: string): never => {
  throw new HerdError('INVALID_SPEC', message, hint === undefined ? {} : { hint });
};

/**
 * `--upload SRC[:DEST]`: DEST relative to /work or absolute under it; absent, SRC's own name in
 * /work. A SRC that exists whole (a name with a colon) is taken as it is.
 */
export function parseUploadSpec(text: string, exists: (path: string) => boolean): UploadSpec {
  const colon = text.lastIndexOf(':');
  const [source, dest] = exists(text) || colon <= 0 ? [text, undefined] : [text.slice(0, colon), text.slice(colon + 1)];
  if (source === '') invalid(`--upload ${text}: no local path`);
  if (dest === undefined) return { source, dest: basename(source.replace(/\/+$/, '')) };
  const inJob = posix.normalize(posix.isAbsolute(dest) ? dest : posix.join('/work', dest)).replace(/\/+$/, '');
  if (inJob !== '/work' && !inJob.startsWith('/work/')) {
    invalid(`--upload ${text}: ${dest} is outside the job's /work`, 'uploads land in /work (its files stay with the job); name a place under it, e.g. data/ or /work/data');
  }
  return { source, dest: inJob === '/work' ? '' : inJob.slice('/work/'.length) };
}

function statKey(s: BigIntStats): LocalFile['stat'] {
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
}

const modeOf = (s: BigIntStats): number => Number(s.mode) & UPLOAD_MODE_MASK;
const msOf = (s: BigIntStats): number => Number(s.mtimeNs / 1_000_000n);

/**
 * Walks every spec into one tree: the directories above each DEST, then the source itself —
 * directories, files and symlinks (kept as symlinks); a symlink named on the command line is
 * followed. Devices, FIFOs and sockets are refused by name, before any host is contacted.
 */
export function walkUploads(specs: readonly UploadSpec[]): UploadSet {
  const entries: UploadEntry[] = [];
  const files: LocalFile[] = [];
  const paths = new Map<string, string>();
  const add = (entry: UploadEntry, source: string): void => {
    const before = paths.get(entry.path);
    if (before !== undefined) {
      // The same directory above two uploads is one directory.
      if (entry.kind === 'dir' && entries.find((e) => e.path === entry.path)?.kind === 'dir') return;
      invalid(`--upload: ${source} and ${before} would both be /work/${entry.path}`, 'give one of them another DEST (--upload SRC:DEST)');
    }
    paths.set(entry.path, source);
    entries.push(entry);
  };
  for (const spec of specs) {
    let top: BigIntStats;
    try {
      top = statSync(spec.source, { bigint: true });
    } catch (err) {
      return invalid(`--upload ${spec.source}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
    const parts = spec.dest === '' ? [] : spec.dest.split('/');
    if (parts.length === 0 && !top.isDirectory()) invalid(`--upload ${spec.source}:/work: only a directory's content can be /work itself`, 'name the file\'s place, e.g. --upload FILE:/work/FILE');
    for (let i = 1; i < parts.length; i++) add({ kind: 'dir', path: parts.slice(0, i).join('/'), mode: 0o755 }, spec.source);
    const visit = (source: string, path: string, stat: BigIntStats): void => {
      if (path !== '') {
        const problem = uploadPathProblem(path);
        if (problem !== null) invalid(`--upload: ${source} cannot be uploaded: its path in /work has ${problem}`);
      }
      if (stat.isSymbolicLink()) add({ kind: 'symlink', path, target: readlinkSync(source) }, source);
      else if (stat.isFile()) {
        const entry: LocalFile['entry'] = { kind: 'file', path, mode: modeOf(stat), size: Number(stat.size), mtimeMs: msOf(stat) };
        add(entry, source);
        files.push({ entry, source, stat: statKey(stat) });
      } else if (stat.isDirectory()) {
        if (path !== '') add({ kind: 'dir', path, mode: modeOf(stat), mtimeMs: msOf(stat) }, source);
        let names: string[];
        try {
          names = readdirSync(source).sort();
        } catch (err) {
          return invalid(`--upload: cannot read the directory ${source}: ${(err as Error).message}`);
        }
        for (const name of names) {
          const child = join(source, name);
          visit(child, path === '' ? name : `${path}/${name}`, lstatSync(child, { bigint: true }));
        }
      } else {
        const what = stat.isFIFO() ? 'a FIFO' : stat.isSocket() ? 'a socket' : 'a device file';
        invalid(`--upload: ${source} is ${what}: an upload holds files, directories and symlinks only`, 'leave it out (upload the files around it one by one), or copy its content into a file');
      }
    };
    visit(spec.source, spec.dest, top);
  }
  return { entries, files, totals: checkManifest(entries) };
}
