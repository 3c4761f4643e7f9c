import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

declare const __HERD_HELPER__: { sha256: string; size: number } | undefined;
declare const __HERD_VERSION__: string | undefined;

export const VERSION: string = typeof __HERD_VERSION__ === 'string' ? __HERD_VERSION__ : '0.0.0-dev';

export interface HelperAsset {
  sha256: string;
  size: number;
  /** Read only when a host does not have this helper yet. */
  bytes(): Uint8Array;
}

function helperUrl(): URL {
  // The bundle sits beside helper.mjs in dist/; sources run from src/client/ during development.
  return typeof __HERD_HELPER__ === 'undefined' ? new URL('../../dist/helper.mjs', import.meta.url) : new URL('./helper.mjs', import.meta.url);
}

let cached: HelperAsset | undefined;

export function helperAsset(): HelperAsset {
  if (cached !== undefined) return cached;
  const path = fileURLToPath(helperUrl());
  if (typeof __HERD_HELPER__ !== 'undefined') {
    cached = { ...__HERD_HELPER__, bytes: () => readFileSync(path) };
  } else {
    const bytes = readFileSync(path);
    cached = { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, bytes: () => bytes };
  }
  return cached;
}
