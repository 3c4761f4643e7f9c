/*
 * `npm run dist [-- TARGET...]`: herd as one file per platform, for machines without Node. Each is
 * Bun's single-file executable for that platform (`bun build --compile`, cross-compiled from Bun's
 * own npm package for the platform: --compile-executable-path) holding dist/herd.js, compiled to
 * bytecode, and the helper it ships to hosts. Written to dist/single/herd-TARGET, with their sizes printed.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { cachedRuntime, downloadBun, fetchRuntime, isRuntimeTarget } from '../src/client/runtime/bunRuntime.ts';

export const DIST_TARGETS = ['linux-x64', 'linux-x64-musl', 'linux-aarch64', 'linux-aarch64-musl', 'darwin-x64', 'darwin-aarch64'] as const;
export type DistTarget = (typeof DIST_TARGETS)[number];

const root = join(import.meta.dirname ?? '.', '..');
const bun = join(root, '.runtimes', 'node_modules', '.bin', 'bun');

/**
 * The Bun binary for a platform: the client's runtime cache for host targets, else the npm registry
 * (kept in dist/single/.bun, or $HERD_DIST_BUN_CACHE: CI keeps them across fresh clones).
 */
async function bunFor(target: DistTarget): Promise<string> {
  const dir = process.env.HERD_DIST_BUN_CACHE ?? join(root, 'dist', 'single', '.bun');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `bun-${target}`);
  if (existsSync(path)) return path;
  const say = (line: string): void => console.error(line);
  // Host targets go through the client's runtime cache (and stay there for hosts without a runtime).
  const binary = isRuntimeTarget(target) ? gunzipSync(readFileSync((cachedRuntime(target) ?? (await fetchRuntime(target, say))).gzPath)) : await downloadBun(target, say);
  writeFileSync(path, binary, { mode: 0o755 });
  return path;
}

/** `bytecode: false` only to measure what the bytecode saves (bench/single.ts), written beside as herd-TARGET-source. */
export async function buildSingle(target: DistTarget, options: { bytecode?: boolean } = {}): Promise<{ target: DistTarget; path: string; bytes: number }> {
  const bytecode = options.bytecode ?? true;
  const out = join(root, 'dist', 'single', `herd-${target}${bytecode ? '' : '-source'}`);
  rmSync(out, { force: true });
  // --bytecode: JavaScriptCore's bytecode compiled ahead, so a start skips parsing the 0.8 MB bundle
  // (--version 24 ms against 68 ms without it, on this machine: bench/single.ts).
  // --target as well as the binary: without it Bun writes every executable as ELF (a Mach-O one fails).
  const bunTarget = `bun-${target.replace('aarch64', 'arm64')}`;
  execFileSync(bun, ['build', '--compile', ...(bytecode ? ['--bytecode', '--format=esm'] : []), `--target=${bunTarget}`, `--compile-executable-path=${await bunFor(target)}`, join(root, 'dist', 'herd.js'), '--asset', join(root, 'dist', 'helper.mjs'), '--outfile', out], { stdio: ['ignore', 'ignore', 'inherit'], cwd: root });
  chmodSync(out, 0o755);
  return { target, path: out, bytes: statSync(out).size };
}

if (process.argv[1]?.endsWith('dist.ts')) {
  const wanted = process.argv.slice(2);
  for (const t of wanted) if (!(DIST_TARGETS as readonly string[]).includes(t)) throw new Error(`dist: "${t}" is not one of ${DIST_TARGETS.join(', ')}`);
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  for (const target of (wanted.length === 0 ? DIST_TARGETS : wanted) as DistTarget[]) {
    const built = await buildSingle(target);
    console.log(`${built.path}: ${(built.bytes / 1e6).toFixed(1)} MB`);
  }
}
