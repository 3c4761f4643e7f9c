/*
 * Folding host names into ClusterShell's nodeset notation, as `nodeset -f` prints it:
 * `web01 web02 web03 db1` → `db1,web[01-03]`, `gpu12-0 … gpu40-0` → `gpu[12-40]-0`,
 * `rack1-node1 rack1-node2 rack2-node1 rack2-node2` → `rack[1-2]-node[1-2]`.
 * A name is a pattern (its text with each run of digits taken out) and a vector of those numbers
 * as written; names of one pattern fold into as few products of ranges as the greedy merge finds.
 */

/** Numbers as written ("007" keeps its zeros): by length, then by value, as ClusterShell sorts them. */
function compareNumbers(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function next(text: string, width: number): string {
  return (BigInt(text) + 1n).toString().padStart(width, '0');
}

/** A set of numbers as a range list: 1,2,3,7 → "1-3,7"; 01,02 → "01-02"; 3,01,02,10 → "3,01-02,10". */
export function foldRange(numbers: Iterable<string>): string {
  const sorted = [...new Set(numbers)].sort(compareNumbers);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    const start = sorted[i]!;
    const width = start.length > 1 && start.startsWith('0') ? start.length : 0;
    let j = i;
    // A range a-b stands for exactly its numbers written at a's padding: only those join it.
    while (j + 1 < sorted.length && sorted[j + 1] === next(sorted[j]!, width)) j++;
    parts.push(i === j ? start : `${start}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** One dimension of a product: a single number as it is, several in brackets. */
function renderDimension(numbers: ReadonlySet<string>): string {
  return numbers.size === 1 ? [...numbers][0]! : `[${foldRange(numbers)}]`;
}

type Product = Array<Set<string>>;

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/** Two products as one, where they differ in one dimension at most (disjoint there, or one holding the other); else null. */
function merged(a: Product, b: Product): Product | null {
  const out: Product = [];
  let differ = 0;
  for (let d = 0; d < a.length; d++) {
    const [x, y] = [a[d]!, b[d]!];
    if (sameSet(x, y)) {
      out.push(x);
      continue;
    }
    if (++differ > 1) return null;
    const shared = [...x].filter((n) => y.has(n)).length;
    if (shared === 0) out.push(new Set([...x, ...y]));
    else if (shared === y.size) out.push(x);
    else if (shared === x.size) out.push(y);
    else return null;
  }
  return out;
}

/** Above this many names of one pattern the quadratic merge gives way to merging by dimension. */
const GREEDY_LIMIT = 2000;

const SIZE = (p: Product): number => p.reduce((n, s) => n * s.size, 1);

/** The order ClusterShell keeps products in: bigger first, then dimension by dimension, wider first, then by first and last number. */
function compareProducts(a: Product, b: Product): number {
  const size = SIZE(b) - SIZE(a);
  if (size !== 0) return size;
  for (let d = 0; d < a.length; d++) {
    const [x, y] = [[...a[d]!].sort(compareNumbers), [...b[d]!].sort(compareNumbers)];
    if (x.length !== y.length) return y.length - x.length;
    // The numbers compare as text here, as ClusterShell's do (so "16" before "8").
    for (const [p, q] of [[x[0]!, y[0]!], [x.at(-1)!, y.at(-1)!]] as const) if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

/**
 * Products covering exactly the vectors, as ClusterShell finds them: where one dimension alone
 * varies, a single product; else, from single vectors in compareProducts order, each product
 * absorbs the ones after it that it can merge with (stopping at the first it cannot, until a pass
 * changes nothing; then once more trying every pair), over and over until nothing merges.
 */
function foldVectors(vectors: readonly string[][]): Product[] {
  const unique = [...new Map(vectors.map((v) => [JSON.stringify(v), v])).values()];
  const dims = unique[0]!.length;
  const varying = Array.from({ length: dims }, (_, d) => new Set(unique.map((v) => v[d])).size > 1).filter(Boolean).length;
  if (varying <= 1) return [Array.from({ length: dims }, (_, d) => new Set(unique.map((v) => v[d]!)))];
  let products: Product[] = unique.map((v) => v.map((n) => new Set([n])));
  if (products.length > GREEDY_LIMIT) return foldByDimension(products).sort(compareProducts);
  let full = false;
  for (let changed = true; changed; ) {
    changed = false;
    products.sort(compareProducts);
    for (let i = 0; i + 1 < products.length; i++) {
      for (let j = i + 1; j < products.length; ) {
        const both = merged(products[i]!, products[j]!);
        if (both !== null) {
          products[i] = both;
          products.splice(j, 1);
          changed = true;
        } else {
          j++;
          if (!full) break;
        }
      }
    }
    if (!changed && !full) changed = full = true;
  }
  return products;
}

/** For many names: along each dimension from the last, products equal elsewhere become one. */
function foldByDimension(start: Product[]): Product[] {
  let products = start;
  for (let changed = true; changed; ) {
    changed = false;
    for (let d = products[0]!.length - 1; d >= 0; d--) {
      const byRest = new Map<string, Product>();
      for (const p of products) {
        const key = JSON.stringify(p.map((s, i) => (i === d ? [] : [...s].sort(compareNumbers))));
        const into = byRest.get(key);
        if (into === undefined) byRest.set(key, p.map((s) => new Set(s)));
        else {
          for (const n of p[d]!) into[d]!.add(n);
          changed = true;
        }
      }
      products = [...byRest.values()];
    }
  }
  return products;
}

/**
 * The shortest nodeset notation for a list of names, as ClusterShell prints it. Names that
 * nodeset syntax cannot carry (brackets, operators, spaces) stay as they are. expandNodeset gives
 * the same names back.
 */
export function foldNodeset(names: readonly string[]): string {
  const patterns = new Map<string, { pieces: string[]; vectors: string[][] }>();
  const terms: Array<{ key: string; text: string }> = [];
  for (const name of new Set(names)) {
    if (/[[\],!&^@\s]/.test(name) || !/\d/.test(name)) {
      terms.push({ key: name, text: name });
      continue;
    }
    const pieces = name.split(/\d+/);
    const vector = name.match(/\d+/g)!;
    const key = pieces.join('%s');
    let pattern = patterns.get(key);
    if (pattern === undefined) patterns.set(key, (pattern = { pieces, vectors: [] }));
    pattern.vectors.push(vector);
  }
  for (const [key, { pieces, vectors }] of patterns) {
    const products = foldVectors(vectors).map((p) => ({ dims: p.map(renderDimension) }));
    const text = products.map(({ dims }) => pieces.map((piece, i) => piece + (dims[i] ?? '')).join('')).join(',');
    terms.push({ key, text });
  }
  return terms
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((t) => t.text)
    .join(',');
}
