import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { HerdError } from '../../protocol/errors.ts';
import { cacheDir } from '../state/localState.ts';

/*
 * The Bun runtime herd ships to a host that has no JavaScript runtime (issue 17): the single-file
 * binary of Bun's npm packages (@oven/bun-linux-x64 and its siblings), one per host target, kept
 * gzipped in the client's cache with the sha256 of the binary it unpacks to. Fetched from the npm
 * registry on first need (or ahead, with `herd runtime fetch`), checked against the registry's
 * sha512, never run here.
 */

/** The Bun release herd ships; hosts cache each by the hash of its binary. */
export const BUN_VERSION = '1.4.5';

/** What bootstrap.sh detects on a host, and the npm package that has its binary. */
export const RUNTIME_TARGETS = ['linux-x64', 'linux-x64-baseline', 'linux-x64-musl', 'linux-x64-musl-baseline', 'linux-aarch64', 'linux-aarch64-musl'] as const;
export type RuntimeTarget = (typeof RUNTIME_TARGETS)[number];

export const isRuntimeTarget = (text: string): text is RuntimeTarget => (RUNTIME_TARGETS as readonly string[]).includes(text);

/** A runtime ready to send: its binary's sha256, and the gzipped file on the wire. */
export interface RuntimeOffer {
  target: RuntimeTarget;
  version: string;
  sha256: string;
  gzPath: string;
  gzBytes: number;
}

interface Manifest {
  version: string;
  target: RuntimeTarget;
  sha256: string;
  gzBytes: number;
}

function registry(): string {
  return (process.env.HERD_NPM_REGISTRY ?? 'https://registry.npmjs.org').replace(/\/+$/, '');
}

function paths(target: RuntimeTarget): { dir: string; gz: string; manifest: string } {
  const dir = join(cacheDir(), 'runtimes');
  const base = `bun-${BUN_VERSION}-${target}`;
  return { dir, gz: join(dir, `${base}.gz`), manifest: join(dir, `${base}.json`) };
}

/** The cached runtime for `target`, or null when there is none (or it does not hold together). */
export function cachedRuntime(target: RuntimeTarget): RuntimeOffer | null {
  const p = paths(target);
  try {
    const m = JSON.parse(readFileSync(p.manifest, 'utf8')) as Manifest;
    if (m.version !== BUN_VERSION || m.target !== target || !/^[0-9a-f]{64}$/.test(m.sha256) || !existsSync(p.gz)) return null;
    return { target, version: m.version, sha256: m.sha256, gzPath: p.gz, gzBytes: m.gzBytes };
  } catch {
    return null;
  }
}

/** The one file of a tarball: ustar headers of 512 bytes, each followed by its data padded to 512. */
function fileFromTar(tar: Buffer, wanted: string): Buffer | null {
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) return null;
    const text = (from: number, to: number): string => header.subarray(from, to).toString('utf8').replace(/\0.*$/s, '');
    const name = `${text(345, 500) === '' ? '' : `${text(345, 500)}/`}${text(0, 100)}`;
    const size = parseInt(text(124, 136).trim() || '0', 8);
    const type = String.fromCharCode(header[156]!);
    if (name === wanted && (type === '0' || type === '\0')) return tar.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return null;
}

/**
 * Bun's binary for `platform` (a host target, or darwin-x64 / darwin-aarch64 for `npm run dist`),
 * from its npm package `@oven/bun-PLATFORM`, checked against the registry's sha512.
 */
export async function downloadBun(platform: string, progress: (line: string) => void = () => {}): Promise<Buffer> {
  const name = `@oven/bun-${platform}`;
  const failed = (what: string): HerdError =>
    new HerdError('HELPER_START', `cannot get Bun ${BUN_VERSION} for ${platform} from ${registry()}: ${what}`, {
      hint: `on a machine that reaches the npm registry, run herd runtime fetch ${platform} and copy ${join(cacheDir(), 'runtimes')} here; or install node, bun or deno on the host`,
    });
  let meta: { dist?: { tarball?: string; integrity?: string } };
  try {
    const r = await fetch(`${registry()}/${name}/${BUN_VERSION}`);
    if (!r.ok) throw failed(`the registry answered ${r.status} for ${name}@${BUN_VERSION}`);
    meta = (await r.json()) as typeof meta;
  } catch (err) {
    throw err instanceof HerdError ? err : failed(`${(err as Error).message}${(err as { cause?: Error }).cause === undefined ? '' : ` (${(err as { cause: Error }).cause.message})`}`);
  }
  const tarball = meta.dist?.tarball;
  const integrity = meta.dist?.integrity;
  if (tarball === undefined || integrity === undefined || !integrity.startsWith('sha512-')) throw failed('the registry gave no tarball with a sha512');
  progress(`herd: fetching Bun ${BUN_VERSION} for ${platform} (${tarball})`);
  let packed: Buffer;
  try {
    const r = await fetch(tarball);
    if (!r.ok) throw failed(`the tarball answered ${r.status}`);
    packed = Buffer.from(await r.arrayBuffer());
  } catch (err) {
    throw err instanceof HerdError ? err : failed((err as Error).message);
  }
  // npm's integrity is what the registry signed for: a tarball that differs is not that package.
  if (createHash('sha512').update(packed).digest('base64') !== integrity.slice('sha512-'.length)) throw failed('the tarball does not match the registry\'s sha512');
  const binary = fileFromTar(gunzipSync(packed), 'package/bin/bun');
  if (binary === null) throw failed('the package holds no bin/bun');
  return binary;
}

/** Downloads the target's package from the npm registry, checks it, and caches its binary gzipped. */
export async function fetchRuntime(target: RuntimeTarget, progress: (line: string) => void = () => {}): Promise<RuntimeOffer> {
  const failed = (what: string): HerdError => new HerdError('HELPER_START', `cannot cache Bun ${BUN_VERSION} for ${target}: ${what}`);
  const binary = await downloadBun(target, progress);
  const offer: Manifest = { version: BUN_VERSION, target, sha256: createHash('sha256').update(binary).digest('hex'), gzBytes: 0 };
  const gz = gzipSync(binary, { level: 6 });
  offer.gzBytes = gz.length;
  const p = paths(target);
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  // Written whole, then renamed: a reader never sees half a runtime.
  const tmp = `${p.gz}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, gz, { mode: 0o600 });
    renameSync(tmp, p.gz);
    writeFileSync(`${p.manifest}.${process.pid}.tmp`, JSON.stringify(offer), { mode: 0o600 });
    renameSync(`${p.manifest}.${process.pid}.tmp`, p.manifest);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw failed(`cannot write the cache in ${p.dir}: ${(err as Error).message}`);
  }
  progress(`herd: Bun ${BUN_VERSION} for ${target}: ${(binary.length / 1e6).toFixed(0)} MB, ${(gz.length / 1e6).toFixed(0)} MB on the wire, cached in ${p.dir}`);
  return { target, version: BUN_VERSION, sha256: offer.sha256, gzPath: p.gz, gzBytes: gz.length };
}

const inFlight = new Map<RuntimeTarget, Promise<RuntimeOffer>>();

/** The runtime for a host's target: cached, or fetched once for every host of the run that needs it. */
export function runtimeFor(target: RuntimeTarget, progress?: (line: string) => void): Promise<RuntimeOffer> {
  const cached = cachedRuntime(target);
  if (cached !== null) return Promise.resolve(cached);
  let pending = inFlight.get(target);
  if (pending === undefined) {
    pending = fetchRuntime(target, progress).finally(() => inFlight.delete(target));
    inFlight.set(target, pending);
  }
  return pending;
}
