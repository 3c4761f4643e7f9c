import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { exitStatus, jobExitStatus, overallStatus, summaryLine, type HostOutcome } from '../../../../src/client/output/outcome.ts';
import { HerdError } from '../../../../src/protocol/errors.ts';
import { type JobInfo, type JobResult } from '../../../../src/protocol/messages.ts';

const result = (changes: Partial<JobResult>): JobResult => ({
  jobId: 'abc', exitCode: 0, signal: null, oomKilled: false, timedOut: false, stopped: false,
  startedAt: '2026-01-01T00:00:00Z', endedAt: '2026-01-01T00:00:01Z', durationMs: 1000, ...changes,
});

const info = (changes: Partial<JobInfo>): JobInfo => ({
  id: 'abcdefabcdef', argv: ['echo', 'a b'], state: 'COMPLETED', reason: null, owner: 'me', hostname: 'h', network: 'none', ip: null,
  createdAt: '2026-01-01T00:00:00Z', scheduledFor: null, startedAt: '2026-01-01T00:00:00Z', endedAt: '2026-01-01T00:00:01Z', durationMs: 1000,
  exitCode: 0, signal: null, oomKilled: false, timedOut: false, timeoutMs: null, log: { bytes: 0, maxBytes: 1, dropped: false }, ...changes,
});

test('job exit status: 124 for a timeout, the code, 128+signal, 255 without one', () => {
  assert.is(jobExitStatus(info({ timedOut: true, exitCode: 143 })), 124);
  assert.is(jobExitStatus(info({ exitCode: 7 })), 7);
  assert.is(jobExitStatus(info({ exitCode: null, signal: 'KILL' })), 137);
  assert.is(jobExitStatus(info({ exitCode: null, state: 'LOST' })), 255);
});

test('run status: a failed job outranks unreachable hosts; unreachable alone is 254; summary names them', () => {
  const host = (name: string, changes: Partial<HostOutcome>): HostOutcome => ({ host: name, jobId: null, result: null, error: null, shippedHelper: false, ...changes });
  const ok = host('a', { jobId: 'j1', result: result({}) });
  const failed = host('b', { jobId: 'j2', result: result({ exitCode: 3 }) });
  const away = host('c', { error: new HerdError('HOST_UNREACHABLE', 'connection refused') });
  const auth = host('d', { error: new HerdError('SSH_AUTH', 'denied') });
  assert.is(overallStatus([ok, away]), 254);
  assert.is(overallStatus([ok, away, failed]), 3);
  assert.is(overallStatus([ok, away, auth]), 255);
  assert.is(overallStatus([ok]), 0);
  assert.is(summaryLine([ok, failed, away, auth]), 'herd: 4 hosts: 1 ok, 1 failed (exit 3: b), 1 unreachable (c), 1 errors (SSH_AUTH: d); rerun those with -H @failed');
  const racks = ['web3', 'web1', 'web2', 'web7'].map((n) => host(n, { error: new HerdError('HOST_UNREACHABLE', 'timed out') }));
  assert.is(summaryLine([ok, ...racks]), 'herd: 5 hosts: 1 ok, 4 unreachable (web[1-3,7]); rerun those with -H @failed', 'unreachable hosts folded into a nodeset');
});

test('exit status: the job status, 128+n for signals, 127 not found, 255 for herd errors, largest over hosts', () => {
  const base = { host: 'h', jobId: 'j', shippedHelper: false, error: null };
  const result = (exitCode: number | null, signal: string | null): HostOutcome => ({
    ...base,
    result: { jobId: 'j', exitCode, signal, oomKilled: false, timedOut: false, stopped: false, startedAt: '', endedAt: '', durationMs: 0 },
  });
  assert.is(exitStatus(result(3, null)), 3);
  assert.is(exitStatus(result(null, 'KILL')), 137);
  assert.is(exitStatus(result(null, 'TERM')), 143);
  assert.is(exitStatus({ ...base, result: null, error: new HerdError('COMMAND_NOT_FOUND', 'x') }), 127);
  assert.is(exitStatus({ ...base, result: null, error: new HerdError('SSH_AUTH', 'x') }), 255);
  assert.is(overallStatus([result(0, null), result(2, null), result(1, null)]), 2);
});

test.run();
