import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseMessage, type JobInfo } from '../../../src/protocol/messages.ts';

const info = (changes: Partial<JobInfo>): JobInfo => ({
  id: 'abcdefabcdef', argv: ['echo', 'a b'], state: 'COMPLETED', reason: null, owner: 'me', hostname: 'h', network: 'none', ip: null,
  createdAt: '2026-01-01T00:00:00Z', scheduledFor: null, startedAt: '2026-01-01T00:00:00Z', endedAt: '2026-01-01T00:00:01Z', durationMs: 1000,
  exitCode: 0, signal: null, oomKilled: false, timedOut: false, timeoutMs: null, log: { bytes: 0, maxBytes: 1, dropped: false }, ...changes,
});

test('job messages are validated', () => {
  assert.ok(parseMessage({ t: 'job-logs', id: 'ab', follow: true, stdout: false, stderr: false, timestamps: false, tail: 5 }));
  assert.throws(() => parseMessage({ t: 'job-logs', id: 'ab', follow: 'yes', stdout: false, stderr: false, timestamps: false }), /follow/);
  assert.throws(() => parseMessage({ t: 'job-stop', id: 'ab', graceMs: -1 }), /graceMs/);
  assert.throws(() => parseMessage({ t: 'job-list', state: 'DANCING' }), /state/);
  assert.throws(() => parseMessage({ t: 'run', argv: ['x'], env: {}, timeoutMs: 0 }), /timeoutMs/);
  assert.ok(parseMessage({ t: 'jobs', jobs: [info({})] }));
  assert.throws(() => parseMessage({ t: 'jobs', jobs: [{ ...info({}), state: 'NOPE' }] }), /state/);
});

test.run();
