import { HerdError } from '../errors.ts';
import { MAX_UPLOAD_BYTES, MAX_UPLOAD_ENTRIES } from '../limits.ts';

/*
 * What an upload holds, as the client sends it ahead of any content: one entry per directory,
 * file and symlink, parents before their children, paths relative to the job's /work. Nothing
 * else (devices, FIFOs, sockets, hard links as such) can be named. The host checks the whole
 * manifest before it writes anything.
 */
export type UploadEntry =
  | { kind: 'dir'; path: string; mode: number; mtimeMs?: number }
  /** sha256 when the client knows it already (its cache): the host may have the content by hash. */
  | { kind: 'file'; path: string; mode: number; size: number; sha256?: string; mtimeMs?: number }
  | { kind: 'symlink'; path: string; target: string };

/** Longest path (bytes) and path component, as Linux allows them. */
const MAX_PATH_BYTES = 4096;
const MAX_NAME_BYTES = 255;
const SHA256 = /^[0-9a-f]{64}$/;
/** Permission bits kept: setuid, setgid and sticky never come with an upload. */
export const UPLOAD_MODE_MASK = 0o777;

const invalid = (what: string): never => {
  throw new HerdError('INVALID_SPEC', `upload: ${what}`);
};

/**
 * Why `path` may not be an upload's path, or null: relative, '/'-separated, no empty, "." or ".."
 * component, no control characters (a newline in a name breaks every line-based tool), within
 * Linux's lengths.
 */
export function uploadPathProblem(path: string): string | null {
  if (path === '') return 'an empty path';
  if (path.startsWith('/')) return 'an absolute path';
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'a control character (a newline, a tab...) in a name';
  if (new TextEncoder().encode(path).length > MAX_PATH_BYTES) return `a path over ${MAX_PATH_BYTES} bytes`;
  for (const part of path.split('/')) {
    if (part === '' || part === '.') return 'an empty or "." component';
    if (part === '..') return 'a ".." component';
    if (new TextEncoder().encode(part).length > MAX_NAME_BYTES) return `a name over ${MAX_NAME_BYTES} bytes`;
  }
  return null;
}

/** The directory an entry's path lies in ('' for /work itself). */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** The content bytes and file count of a manifest. */
export interface UploadTotals {
  files: number;
  bytes: number;
}

/**
 * Checks a whole manifest: each path safe, each named once, each parent a directory named before
 * it (so no entry can lie under a symlink, and nothing is made implicitly), within the limits.
 */
export function checkManifest(entries: readonly UploadEntry[], limits: { maxEntries?: number; maxBytes?: number } = {}): UploadTotals {
  const maxEntries = limits.maxEntries ?? MAX_UPLOAD_ENTRIES;
  const maxBytes = limits.maxBytes ?? MAX_UPLOAD_BYTES;
  if (entries.length > maxEntries) invalid(`${entries.length} entries, over the limit of ${maxEntries}`);
  const dirs = new Set<string>(['']);
  const seen = new Set<string>();
  let bytes = 0;
  let files = 0;
  for (const entry of entries) {
    const problem = uploadPathProblem(entry.path);
    if (problem !== null) invalid(`${JSON.stringify(entry.path)} has ${problem}`);
    if (seen.has(entry.path)) invalid(`${JSON.stringify(entry.path)} is named twice`);
    seen.add(entry.path);
    const parent = parentOf(entry.path);
    if (!dirs.has(parent)) invalid(`${JSON.stringify(entry.path)} is not inside a directory of the upload named before it (a symlink or file cannot hold entries)`);
    if (entry.kind === 'dir') dirs.add(entry.path);
    else if (entry.kind === 'file') {
      files++;
      bytes += entry.size;
      if (bytes > maxBytes) invalid(`more than ${maxBytes} bytes, over the limit`);
    }
  }
  return { files, bytes };
}

/** An entry from a manifest line (untrusted JSON), or an INVALID_SPEC error. */
export function parseEntry(value: unknown): UploadEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return invalid('a manifest line is not an object');
  const o = value as Record<string, unknown>;
  if (typeof o.path !== 'string') return invalid('an entry without a path');
  const mtime = (): { mtimeMs?: number } => {
    if (o.mtimeMs === undefined) return {};
    return Number.isSafeInteger(o.mtimeMs) && (o.mtimeMs as number) >= 0 ? { mtimeMs: o.mtimeMs as number } : invalid(`${JSON.stringify(o.path)}: a bad mtimeMs`);
  };
  const mode = (): number => (Number.isSafeInteger(o.mode) && (o.mode as number) >= 0 ? (o.mode as number) & UPLOAD_MODE_MASK : invalid(`${JSON.stringify(o.path)}: a bad mode`));
  switch (o.kind) {
    case 'dir':
      return { kind: 'dir', path: o.path, mode: mode(), ...mtime() };
    case 'file': {
      if (!Number.isSafeInteger(o.size) || (o.size as number) < 0) return invalid(`${JSON.stringify(o.path)}: a bad size`);
      if (o.sha256 !== undefined && (typeof o.sha256 !== 'string' || !SHA256.test(o.sha256))) return invalid(`${JSON.stringify(o.path)}: a bad sha256`);
      return { kind: 'file', path: o.path, mode: mode(), size: o.size as number, ...(o.sha256 === undefined ? {} : { sha256: o.sha256 as string }), ...mtime() };
    }
    case 'symlink':
      if (typeof o.target !== 'string' || o.target === '' || o.target.length > MAX_PATH_BYTES || o.target.includes('\u0000')) return invalid(`${JSON.stringify(o.path)}: a bad symlink target`);
      return { kind: 'symlink', path: o.path, target: o.target };
    default:
      return invalid(`${JSON.stringify(o.path)} is a ${JSON.stringify(o.kind)}: an upload holds directories, files and symlinks only`);
  }
}

/** The manifest as the client sends it: one JSON entry per line. */
export function encodeManifest(entries: readonly UploadEntry[]): Uint8Array {
  return new TextEncoder().encode(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
}

/** A manifest from its bytes: every line an entry, the whole checked (checkManifest). */
export function decodeManifest(bytes: Uint8Array, limits?: { maxEntries?: number; maxBytes?: number }): { entries: UploadEntry[]; totals: UploadTotals } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return invalid('the manifest is not UTF-8');
  }
  if (text !== '' && !text.endsWith('\n')) invalid('the manifest does not end with a newline');
  const entries = text === '' ? [] : text.slice(0, -1).split('\n').map((line) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return invalid('a manifest line is not JSON');
    }
    return parseEntry(value);
  });
  return { entries, totals: checkManifest(entries, limits) };
}

/**
 * Which files' content the host wants, as a bitmap over the manifest's file entries in order
 * (bit i of byte i>>3, least significant first), base64: 100,000 files fit in 17 KB.
 */
export function encodeWant(want: readonly boolean[]): string {
  const bits = new Uint8Array(Math.ceil(want.length / 8));
  want.forEach((w, i) => {
    if (w) bits[i >> 3]! |= 1 << (i & 7);
  });
  let binary = '';
  for (const b of bits) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function decodeWant(text: string, files: number): boolean[] {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new HerdError('PROTOCOL', 'upload: the host\'s want list is not base64');
  }
  if (binary.length !== Math.ceil(files / 8)) throw new HerdError('PROTOCOL', 'upload: the host\'s want list does not match the manifest');
  return Array.from({ length: files }, (_, i) => (binary.charCodeAt(i >> 3) & (1 << (i & 7))) !== 0);
}
