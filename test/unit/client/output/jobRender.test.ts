import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { jobTable } from '../../../../src/client/output/jobRender.ts';
import { type JobInfo } from '../../../../src/protocol/messages.ts';

const info = (changes: Partial<JobInfo>): JobInfo => ({
  id: 'abcdefabcdef', argv: ['echo', 'a b'], state: 'COMPLETED', reason: null, owner: 'me', hostname: 'h', network: 'none', ip: null,
  createdAt: '2026-01-01T00:00:00Z', scheduledFor: null, startedAt: '2026-01-01T00:00:00Z', endedAt: '2026-01-01T00:00:01Z', durationMs: 1000,
  exitCode: 0, signal: null, oomKilled: false, timedOut: false, timeoutMs: null, log: { bytes: 0, maxBytes: 1, dropped: false }, ...changes,
});

test('job table: quoted commands, the host column only for several hosts', () => {
  const table = jobTable([{ host: 'web1', job: info({}) }], false, Date.parse('2026-01-01T00:00:05Z'));
  assert.match(table, /^ID\s+STATE\s+EXIT\s+STARTED\s+DURATION\s+COMMAND\n/);
  assert.match(table, /abcdefabcdef\s+COMPLETED\s+0\s+.*1\.0s\s+echo 'a b'\n$/);
  assert.match(jobTable([{ host: 'web1', job: info({}) }], true), /^HOST\s+ID/);
});

test.run();
