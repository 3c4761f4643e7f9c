import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AUDIT_GENESIS, chainLine, lineHash, verifyChain, type AuditEntry, type AuditFile, type AuditHead } from '../../../src/shared/auditChain.ts';

function entry(n: number): AuditEntry {
  return { time: new Date(1_800_000_000_000 + n * 1000).toISOString(), host: 'h1', hostId: 'id', action: 'run', outcome: 'ok', subject: `s${n}`, serial: null, role: 'user', ca: 'ca', login: null, from: null };
}

/** `count` lines; the one numbered `rotateAt` (if any) is a rotation that kept the log from `keptFrom`. */
function chain(count: number, from: AuditHead | null = null, rotation?: { at: number; keptFrom: number }): { lines: string[]; head: AuditHead | null } {
  const lines: string[] = [];
  let head = from;
  for (let i = 1; i <= count; i++) {
    const rotate = rotation?.at === i ? { action: 'audit-rotate', detail: { keptFrom: rotation.keptFrom, removed: [] } } : {};
    const next = chainLine({ ...entry(i), ...rotate }, head);
    lines.push(next.line);
    head = next.head;
  }
  return { lines, head };
}

const file = (name: string, lines: readonly string[]): AuditFile => ({ name, text: lines.map((l) => `${l}\n`).join('') });

test('a chain as written verifies; its first line starts from the genesis hash', () => {
  const { lines, head } = chain(5);
  assert.ok(lines[0]!.includes(AUDIT_GENESIS));
  const verdict = verifyChain([file('current.jsonl', lines)], { head });
  assert.equal(verdict.problems, []);
  assert.is(verdict.ok, true);
  assert.is(verdict.lines, 5);
  assert.equal(verdict.head, head);
  assert.is(verdict.head!.hash, lineHash(lines[4]!));
});

test('an edited line fails at the line after it', () => {
  const { lines, head } = chain(5);
  lines[1] = lines[1]!.replace('"outcome":"ok"', '"outcome":"refused"');
  const verdict = verifyChain([file('current.jsonl', lines)], { head });
  assert.is(verdict.ok, false);
  assert.equal(verdict.problems.map((p) => p.line), [3]);
  assert.match(verdict.problems[0]!.what, /does not follow from line 2/);
});

test('an edited last line fails against the head the agent remembers, and against an anchor', () => {
  const { lines, head } = chain(3);
  const edited = [...lines.slice(0, 2), lines[2]!.replace('"s3"', '"mallory"')];
  assert.match(verifyChain([file('current.jsonl', edited)], { head }).problems[0]!.what, /line 3 is not the one the host's agent wrote/);
  assert.match(verifyChain([file('current.jsonl', edited)], { anchor: head }).problems[0]!.what, /earlier verify saw \(edited\)/);
  assert.is(verifyChain([file('current.jsonl', edited)]).ok, true, 'with nothing known from elsewhere, the last line cannot be checked');
});

test('a removed line, two swapped lines, a cut-off end and a rewrite each fail', () => {
  const { lines, head } = chain(6);
  const removed = lines.filter((_, i) => i !== 2);
  assert.match(verifyChain([file('current.jsonl', removed)]).problems[0]!.what, /line 3 is missing/);
  const swapped = [lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)];
  assert.is(verifyChain([file('current.jsonl', swapped)]).ok, false);
  const cut = lines.slice(0, 4);
  assert.match(verifyChain([file('current.jsonl', cut)], { head }).problems[0]!.what, /ends at line 4 \(lines removed from the end\)/);
  // Rewritten whole, chain and all, by someone who can: an earlier verify's anchor no longer matches.
  const rewritten = chain(6).lines.map((l) => l.replace(/"s(\d)"/, '"x$1"'));
  const again: string[] = [];
  let h: AuditHead | null = null;
  for (const l of rewritten) {
    const parsed = JSON.parse(l) as Record<string, unknown>;
    const { seq: _seq, prev: _prev, ...rest } = parsed;
    const next = chainLine(rest as unknown as AuditEntry, h);
    again.push(next.line);
    h = next.head;
  }
  assert.is(verifyChain([file('current.jsonl', again)]).ok, true, 'a consistent rewrite passes the chain alone');
  assert.is(verifyChain([file('current.jsonl', again)], { anchor: { seq: 4, hash: lineHash(lines[3]!) } }).ok, false);
});

test('a rotated log verifies across files; a file whose first lines were removed fails; rotated-away anchors are no sign', () => {
  const { lines, head } = chain(10);
  const files = [file('000000000001.jsonl', lines.slice(0, 4)), file('000000000005.jsonl', lines.slice(4, 8)), file('current.jsonl', lines.slice(8))];
  assert.equal(verifyChain(files, { head }).problems, []);
  // The oldest file removed without a rotation saying so: lines cut off the front.
  assert.match(verifyChain(files.slice(1), { head }).problems[0]!.what, /begins at line 5 and no rotation says why/);
  // Pruned by the rotation that began the current file: the chain starts at line 5, which is fine.
  const rotated = chain(10, null, { at: 9, keptFrom: 5 });
  const kept = [file('000000000005.jsonl', rotated.lines.slice(4, 8)), file('current.jsonl', rotated.lines.slice(8))];
  const pruned = verifyChain(kept, { head: rotated.head, anchor: { seq: 2, hash: lineHash(rotated.lines[1]!) } });
  assert.equal(pruned.problems, []);
  assert.is(pruned.firstSeq, 5);
  // Lines cut off the front past where the rotation kept it, or a rotation line that says more was kept.
  assert.match(verifyChain([file('000000000006.jsonl', rotated.lines.slice(5, 8)), kept[1]!], { head: rotated.head }).problems[0]!.what, /lines 5–5 are missing: the host's last rotation kept the log from line 5/);
  const putBack = chain(10, null, { at: 9, keptFrom: 6 });
  assert.match(verifyChain([file('000000000005.jsonl', putBack.lines.slice(4, 8)), file('current.jsonl', putBack.lines.slice(8))]).problems[0]!.what, /kept it from line 6/);
  const headless = [files[0]!, file('000000000005.jsonl', lines.slice(5, 8)), files[2]!];
  assert.match(verifyChain(headless).problems[0]!.what, /starts at line 5 but holds line 6/);
  const tornMiddle = [files[0]!, { name: '000000000005.jsonl', text: files[1]!.text.slice(0, -10) }, files[2]!];
  assert.is(verifyChain(tornMiddle).ok, false);
});

test('garbage in the log is reported, not thrown', () => {
  const { lines } = chain(3);
  const verdict = verifyChain([file('current.jsonl', [lines[0]!, '{"not":"audit"}', 'garbage', lines[1]!, lines[2]!])]);
  assert.is(verdict.ok, false);
  assert.match(verdict.problems[0]!.what, /not an audit line/);
});

test('a gap the agent recorded fails verify', () => {
  const first = chain(2);
  const gap = chainLine({ ...entry(3), action: 'audit-gap', outcome: 'failed', code: 'INTERNAL' }, first.head);
  const verdict = verifyChain([file('current.jsonl', [...first.lines, gap.line])]);
  assert.match(verdict.problems[0]!.what, /found the log cut short or replaced/);
});

test.run();
