/**
 * A small deterministic generator for the differential tests' corpora (nodesets, ssh_config,
 * inventories): the same seed gives the same corpus on every run, so a difference found once is
 * found again.
 */
export interface Corpus {
  pick<T>(items: readonly T[]): T;
  int(lo: number, hi: number): number;
  chance(p: number): boolean;
}

export function corpus(seed: number): Corpus {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return {
    pick: <T,>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
  };
}
