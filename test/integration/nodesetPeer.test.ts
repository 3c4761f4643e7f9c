import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { expandNodeset, foldNodeset } from '../../src/client/hosts/nodeset.ts';
import { corpus } from './corpus.ts';
import { gate } from './harness.ts';

/*
 * herd's nodesets against ClusterShell itself, on a generated corpus: every expression expands
 * to the same set of names as `nodeset -e` (or both refuse it), and every list of names folds to
 * the same text as `nodeset -f`. One python process runs ClusterShell's NodeSet for the whole
 * corpus (the CLI is a thin layer over it, checked on a sample); differences herd keeps on
 * purpose are listed in docs/hosts.md.
 */
const Peer = suite('nodesets as ClusterShell: nodeset -e and -f on a generated corpus');
const enabled = gate('nodesetPeer.test.ts', { commands: ['nodeset'] });

const { pick, int } = corpus(20261203);

function number(width: number, value: number): string {
  return String(value).padStart(width, '0');
}

/** One range item: n, a-b, a-b/s, padded or not; sometimes a mistake ClusterShell refuses. */
function rangeItem(): string {
  const width = pick([0, 0, 0, 2, 3]);
  const a = int(0, 30);
  const b = a + int(0, 25);
  const form = int(0, 29);
  if (form < 5) return number(width, a);
  if (form < 9) return `${number(width, a)}-${number(width, b)}/${int(1, 6)}`;
  if (form === 9) return `${number(width, b + 1)}-${number(width, a)}`; // backwards
  if (form === 10) return `${number(2, a)}-${number(0, b + 100)}`; // padding mismatch
  return `${number(width, a)}-${number(width, b)}`;
}

function pattern(): string {
  const prefix = pick(['n', 'web', 'rack', 'gpu', 'a-', 'node-', 'x', 'db']);
  const brackets = int(0, 2);
  let text = prefix;
  for (let i = 0; i < brackets; i++) {
    const items = Array.from({ length: int(1, 3) }, rangeItem);
    text += `[${items.join(',')}]${i + 1 < brackets ? pick(['-', 'n', '.', '-node']) : ''}`;
  }
  if (brackets === 0) text += String(int(1, 40));
  return text + pick(['', '', '', '-0', 'a', '.ib']);
}

function expression(): string {
  const operands = int(1, 4);
  const parts = [pattern()];
  for (let i = 1; i < operands; i++) parts.push(pick([',', ',', '!', '&', '^']), pattern());
  const text = parts.join('');
  // Now and then a syntax mistake: an empty operand, a lone bracket.
  const mistake = int(0, 19);
  if (mistake === 0) return `${text},`;
  if (mistake === 1) return `${text},,x1`;
  if (mistake === 2) return `${text}]`;
  if (mistake === 3) return `[${text}`;
  return text;
}

function nameList(): string[] {
  const prefix = pick(['n', 'web', 'gpu', 'rack', 'a']);
  const dims = int(1, 3);
  const names = new Set<string>();
  const count = int(1, 40);
  const width = pick([0, 0, 2, 3]);
  for (let i = 0; i < count; i++) {
    let name = prefix;
    for (let d = 0; d < dims; d++) name += `${d === 0 ? '' : pick(['-node', '-', 'c'])}${number(pick([width, width, 0]), int(0, d === 0 ? 30 : 4))}`;
    names.add(name + pick(['', '', '-0', '.ib']));
  }
  if (int(0, 4) === 0) names.add(pick(['db1', 'db2', 'login', 'x1']));
  return [...names];
}

const EXPRESSIONS = Array.from({ length: 400 }, expression);
const LISTS = Array.from({ length: 320 }, nameList);

/** The python that runs the nodeset command (its #! line): the one with ClusterShell installed. */
function clusterShellPython(): string {
  const nodeset = execFileSync('sh', ['-c', 'command -v nodeset'], { encoding: 'utf8' }).trim();
  const shebang = readFileSync(nodeset, 'utf8').split('\n')[0]!;
  return shebang.startsWith('#!') ? shebang.slice(2).trim().split(/\s+/)[0]! : 'python3';
}

let answers: { expanded: Array<string[] | null>; folded: string[] } | null = null;

/** ClusterShell's own answer for each expression (sorted names, or the error) and each list (folded). */
function clusterShell(): { expanded: Array<string[] | null>; folded: string[] } {
  if (answers !== null) return answers;
  const script = [
    'import json, sys',
    'from ClusterShell.NodeSet import NodeSet',
    'data = json.load(sys.stdin)',
    'out = {"expanded": [], "folded": []}',
    'for e in data["expressions"]:',
    '    try: out["expanded"].append(list(NodeSet(e)))',
    '    except Exception: out["expanded"].append(None)',
    'for names in data["lists"]:',
    '    out["folded"].append(str(NodeSet.fromlist(names)))',
    'print(json.dumps(out))',
  ].join('\n');
  const python = spawnSync(clusterShellPython(), ['-c', script], { input: JSON.stringify({ expressions: EXPRESSIONS, lists: LISTS }), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (python.status !== 0) throw new Error(`ClusterShell: ${python.stderr}`);
  answers = JSON.parse(python.stdout) as { expanded: Array<string[] | null>; folded: string[] };
  return answers;
}

function ours(expr: string): string[] | null {
  try {
    return expandNodeset(expr);
  } catch {
    return null;
  }
}

Peer('the library answers as the nodeset command does (a sample)', () => {
  const peer = clusterShell();
  for (let i = 0; i < 15; i++) {
    const cli = spawnSync('nodeset', ['-e', EXPRESSIONS[i]!], { encoding: 'utf8' });
    const fromCli = cli.status === 0 ? cli.stdout.trim().split(/\s+/).filter((n) => n !== '') : null;
    assert.equal(fromCli, peer.expanded[i] === null ? null : peer.expanded[i]!.length === 0 ? [] : peer.expanded[i], EXPRESSIONS[i]);
    const folded = execFileSync('nodeset', ['-f', ...LISTS[i]!], { encoding: 'utf8' }).trim();
    assert.is(folded, peer.folded[i], LISTS[i]!.join(' '));
  }
});

Peer(`${EXPRESSIONS.length} expressions expand to the same names as nodeset -e, or both refuse them`, () => {
  const peer = clusterShell();
  const differ: string[] = [];
  let refused = 0;
  EXPRESSIONS.forEach((expr, i) => {
    const theirs = peer.expanded[i]!;
    const mine = ours(expr);
    if (theirs === null) refused++;
    const same = theirs === null || mine === null ? theirs === mine : JSON.stringify([...mine].sort()) === JSON.stringify([...theirs].sort());
    if (!same) differ.push(`${expr}: ClusterShell ${theirs === null ? 'refuses it' : theirs.slice(0, 6).join(' ')}, herd ${mine === null ? 'refuses it' : mine.slice(0, 6).join(' ')}`);
  });
  assert.equal(differ, []);
  assert.ok(refused >= 40 && refused <= EXPRESSIONS.length / 2, `the corpus has both kinds (${refused} refused)`);
});

Peer(`${LISTS.length} lists of names fold to the same text as nodeset -f`, () => {
  const peer = clusterShell();
  const differ = LISTS.map((names, i) => ({ names, theirs: peer.folded[i]!, mine: foldNodeset(names) })).filter((c) => c.theirs !== c.mine);
  assert.equal(differ.map((c) => `${c.names.join(' ')}: ClusterShell ${c.theirs}, herd ${c.mine}`), []);
  for (const names of LISTS) assert.equal(new Set(expandNodeset(foldNodeset(names))), new Set(names), 'the fold expands back to the names');
});

if (enabled) Peer.run();
