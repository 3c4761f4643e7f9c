import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditBudget } from '../../../../src/remote/audit/auditBudget.ts';
import { Auditor, detailOf, MAX_AUDIT_LINE_BYTES, UNKNOWN_ORIGIN } from '../../../../src/remote/audit/auditor.ts';
import { AuditLog } from '../../../../src/remote/audit/auditLog.ts';
import type { Request } from '../../../../src/protocol/messages.ts';

const who = { subject: 'mallory', serial: 's1', role: 'viewer', ca: 'ca1' };

function withAuditor(run: (auditor: Auditor, lines: () => string[]) => void): () => void {
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'herd-auditor-'));
    try {
      const auditor = new Auditor(new AuditLog(join(dir, 'audit')), 'h', 'id');
      run(auditor, () => {
        try {
          return readFileSync(join(dir, 'audit', 'current.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
        } catch {
          return [];
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('a run padded with fields no validator reads keeps none of them in its line', () => {
  const padded = { t: 'run', argv: ['true'], env: { SECRET: 'v' }, network: 'none', junk: 'x'.repeat(100_000), limits: { memoryBytes: 1, junk: 'y'.repeat(100_000) }, user: { uid: 1, gid: 2, junk: 'z' } } as unknown as Request;
  assert.equal(detailOf(padded), { argv: ['true'], network: 'none', user: { uid: 1, gid: 2 }, limits: { memoryBytes: 1 }, envNames: ['SECRET'] });
});

test('no line passes MAX_AUDIT_LINE_BYTES: a run of 64 long arguments keeps the start of its detail as text', withAuditor((auditor, lines) => {
  const request = { t: 'run', argv: Array.from({ length: 4096 }, () => 'a'.repeat(4096)), env: {} } as Request;
  auditor.record({ action: 'run', outcome: 'refused', code: 'PERMISSION_DENIED', message: 'm'.repeat(100_000), detail: detailOf(request)! }, { ...who, subject: 's'.repeat(100_000) }, { login: 'l'.repeat(100_000), from: 'f'.repeat(100_000) });
  const [line] = lines();
  assert.ok(Buffer.byteLength(line!) <= MAX_AUDIT_LINE_BYTES, `${Buffer.byteLength(line!)} bytes`);
  const parsed = JSON.parse(line!) as { detail: { cut: string; start: string } };
  assert.match(parsed.detail.cut, /characters of the detail left out/);
  assert.ok(parsed.detail.start.startsWith('{"argv":["aaa'));
}));

test('the budget refuses past its burst, gives back over time, and the next line counts the refused', withAuditor((_, lines) => {
  let now = 1_000_000;
  const budget = new AuditBudget({ burst: 3, perSecond: 2 }, () => now);
  const auditor = new Auditor(_.file, 'h', 'id', budget);
  const admit = (): boolean => auditor.admit('ca1 mallory', who, UNKNOWN_ORIGIN);
  assert.equal([admit(), admit(), admit(), admit(), admit()], [true, true, true, false, false]);
  assert.is(lines().length, 0, 'a refusal over the budget writes nothing');
  assert.is(auditor.admit('ca1 alice', who, UNKNOWN_ORIGIN), true, 'each caller has a bucket of its own');
  now += 500;
  assert.is(admit(), true, 'one back in half a second at 2 a second');
  assert.is(admit(), false);
  const [line] = lines().map((l) => JSON.parse(l) as { action: string; code: string; subject: string; detail: { refused: number } });
  assert.equal([line?.action, line?.code, line?.subject, line?.detail.refused], ['audit-throttled', 'LIMIT', 'mallory', 2]);
}));

test.run();
