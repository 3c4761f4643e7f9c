import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type JobResult } from '../../../../src/protocol/messages.ts';
import { endState } from '../../../../src/remote/jobs/jobRecord.ts';

const result = (changes: Partial<JobResult>): JobResult => ({
  jobId: 'abc', exitCode: 0, signal: null, oomKilled: false, timedOut: false, stopped: false,
  startedAt: '2026-01-01T00:00:00Z', endedAt: '2026-01-01T00:00:01Z', durationMs: 1000, ...changes,
});

test('end states: completed, failed with the reason, timed out, stopped, OOM, setup failure', () => {
  assert.equal(endState(result({}), null, null, null), { state: 'COMPLETED', reason: null });
  assert.equal(endState(result({ exitCode: 3 }), null, null, null), { state: 'FAILED', reason: 'exit 3' });
  assert.equal(endState(result({ exitCode: null, signal: 'SEGV' }), null, null, null), { state: 'FAILED', reason: 'killed by SIGSEGV' });
  assert.equal(endState(result({ exitCode: 143, stopped: true, timedOut: true }), null, 90_000, null), { state: 'FAILED', reason: 'timed out after 90s' });
  assert.equal(endState(result({ exitCode: 143, stopped: true }), null, null, 'alice'), { state: 'STOPPED', reason: 'stopped by alice' });
  assert.is(endState(result({ exitCode: 137, oomKilled: true }), null, null, null).state, 'FAILED');
  assert.equal(endState(result({ exitCode: null }), 'no such network', null, null), { state: 'FAILED', reason: 'no such network' });
});

test.run();
