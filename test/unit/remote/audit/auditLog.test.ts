import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditLog } from '../../../../src/remote/audit/auditLog.ts';
import { verifyChain, type AuditEntry, type AuditFile } from '../../../../src/shared/auditChain.ts';

/* The audit log on real files: chaining, two writers, rotation, a cut-off end, a torn line. */

function entry(action: string, subject = 'alice'): AuditEntry {
  return { time: new Date().toISOString(), host: 'h', hostId: 'id', action, outcome: 'ok', subject, serial: 's', role: 'user', ca: 'ca', login: 'herd', from: '10.0.0.1:4000' };
}

function filesOf(log: AuditLog): AuditFile[] {
  return log.files().map((f) => ({ name: f.name, text: readFileSync(f.path, 'utf8') }));
}

function withDir(run: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herd-audit-'));
    try {
      await run(join(dir, 'audit'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('lines chain in a private file; a second writer (another agent version) carries the chain on', withDir((dir) => {
  const one = new AuditLog(dir);
  const two = new AuditLog(dir);
  for (let i = 0; i < 5; i++) {
    one.append(entry(`one-${i}`));
    two.append(entry(`two-${i}`));
  }
  assert.is(statSync(dir).mode & 0o777, 0o700);
  assert.is(statSync(join(dir, 'current.jsonl')).mode & 0o777, 0o600);
  const verdict = verifyChain(filesOf(one), { head: two.lastWritten() });
  assert.equal(verdict.problems, []);
  assert.is(verdict.lines, 10);
  // The first writer's view is behind the second's: still a line of the log, so no alarm.
  assert.is(verifyChain(filesOf(one), { head: one.lastWritten() }).ok, true);
}));

test('rotation by size keeps the chain across files named by their first line, and prunes the oldest', withDir((dir) => {
  const log = new AuditLog(dir, { rotateBytes: 2048, keepFiles: 3 });
  for (let i = 0; i < 80; i++) log.append(entry(`run-${i}`));
  const names = log.files().map((f) => f.name);
  assert.is(names.length, 4, names.join(' '));
  assert.is(names[3], 'current.jsonl');
  for (const f of log.files()) assert.ok(statSync(f.path).size <= 2048, f.name);
  const verdict = verifyChain(filesOf(log), { head: log.lastWritten() });
  assert.equal(verdict.problems, []);
  const current = readFileSync(join(dir, 'current.jsonl'), 'utf8').split('\n')[0]!;
  assert.match(current, /"action":"audit-rotate"/, 'a new file begins by saying where the log begins');
  const rotations = verdict.head!.seq - 80;
  assert.ok(rotations >= 3, `each rotation is a line of its own (${rotations})`);
  assert.ok(verdict.firstSeq! > 1, 'the oldest files were pruned');
  assert.is(Number(names[0]!.slice(0, 12)), verdict.firstSeq);
  // Another writer rotating under this one is no gap either.
  const other = new AuditLog(dir, { rotateBytes: 2048, keepFiles: 3 });
  for (let i = 0; i < 20; i++) other.append(entry(`other-${i}`));
  log.append(entry('after'));
  assert.equal(verifyChain(filesOf(log), { head: log.lastWritten() }).problems, []);
}));

test('the oldest files removed by hand are found: the last rotation said where the log begins', withDir((dir) => {
  const log = new AuditLog(dir, { rotateBytes: 2048, keepFiles: 3 });
  for (let i = 0; i < 60; i++) log.append(entry(`run-${i}`));
  assert.equal(verifyChain(filesOf(log)).problems, []);
  const oldest = log.files()[0]!;
  unlinkSync(oldest.path);
  const verdict = verifyChain(filesOf(log));
  assert.not.ok(verdict.ok);
  assert.match(verdict.problems.map((p) => p.what).join('\n'), /lines \d+–\d+ are missing: the host's last rotation kept the log from line \d+ \(oldest files removed\)/);
  // Pruning by the next rotation is not a problem.
  for (let i = 0; i < 30; i++) log.append(entry(`more-${i}`));
  assert.equal(verifyChain(filesOf(log)).problems, []);
}));

test('a log cut short while the agent runs: its next line records the gap, and verify fails', withDir((dir) => {
  const log = new AuditLog(dir);
  for (let i = 0; i < 4; i++) log.append(entry(`run-${i}`));
  const path = join(dir, 'current.jsonl');
  const text = readFileSync(path, 'utf8');
  truncateSync(path, text.indexOf('\n') + 1);
  log.append(entry('next'));
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  assert.is(lines.length, 3);
  assert.match(lines[1]!, /"action":"audit-gap"/);
  const verdict = verifyChain(filesOf(log));
  assert.is(verdict.ok, false);
  assert.match(verdict.problems[0]!.what, /cut short or replaced before line 2/);
}));

test('a torn last line (a crash mid-write) stays as evidence; the next line starts on its own', withDir((dir) => {
  const log = new AuditLog(dir);
  log.append(entry('a'));
  appendFileSync(join(dir, 'current.jsonl'), '{"seq":2,"prev":"ab');
  const fresh = new AuditLog(dir);
  fresh.append(entry('b'));
  const lines = readFileSync(join(dir, 'current.jsonl'), 'utf8').split('\n');
  assert.is(lines.length, 4);
  assert.match(lines[2]!, /"seq":2,/);
  assert.match(lines[2]!, /"action":"b"/);
  const verdict = verifyChain(filesOf(fresh));
  assert.equal(verdict.problems.map((p) => p.what), ['not an audit line (edited or damaged)']);
}));

test('a stale lock of a dead agent is taken over', withDir((dir) => {
  const log = new AuditLog(dir);
  log.append(entry('a'));
  writeFileSync(join(dir, '.lock'), '999999999\n');
  log.append(entry('b'));
  assert.not.ok(readdirSync(dir).includes('.lock'));
  assert.is(verifyChain(filesOf(log)).lines, 2);
}));

test('two processes appending at once leave one unbroken chain', withDir(async (dir) => {
  const module = fileURLToPath(new URL('../../../../src/remote/audit/auditLog.ts', import.meta.url));
  const script = `import { AuditLog } from ${JSON.stringify(module)};
const log = new AuditLog(${JSON.stringify(dir)});
for (let i = 0; i < 300; i++) log.append({ time: new Date().toISOString(), host: 'h', hostId: 'id', action: 'p' + process.pid, outcome: 'ok', subject: null, serial: null, role: null, ca: null, login: null, from: null });`;
  const run = (): Promise<number | null> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });
      child.on('exit', resolve);
    });
  const codes = await Promise.all([run(), run()]);
  assert.equal(codes, [0, 0]);
  const verdict = verifyChain(filesOf(new AuditLog(dir)));
  assert.equal(verdict.problems, []);
  assert.is(verdict.lines, 600);
}));

test.run();
