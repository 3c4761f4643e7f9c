import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatDuration, parseWhen } from '../../src/client/units/durations.ts';
import { jobTable } from '../../src/client/output/jobRender.ts';
import { StampedLines } from '../../src/client/output/lineWriter.ts';
import { jobExitStatus, overallStatus, summaryLine, type HostOutcome } from '../../src/client/output/outcome.ts';
import { HerdError } from '../../src/protocol/errors.ts';
import { parseMessage, type JobInfo, type JobResult } from '../../src/protocol/messages.ts';
import { endState } from '../../src/remote/jobs/jobRecord.ts';

const result = (changes: Partial<JobResult>): JobResult => ({
  jobId: 'abc', exitCode: 0, signal: null, oomKilled: false, timedOut: false, stopped: false,
  startedAt: '2026-01-01T00:00:00Z', endedAt: '2026-01-01T00:00:01Z', durationMs: 1000, ...changes,
});

const info = (changes: Partial<JobInfo>): JobInfo => ({
  id: 'abcdefabcdef', argv: ['echo', 'a b'], state: 'COMPLETED', reason: null, owner: 'me', hostname: 'h', network: 'none', ip: null,
  createdAt: '2026-01-01T00:00:00Z', scheduledFor: null, startedAt: '2026-01-01T00:00:00Z', endedAt: '2026-01-01T00:00:01Z', durationMs: 1000,
  exitCode: 0, signal: null, oomKilled: false, timedOut: false, timeoutMs: null, log: { bytes: 0, maxBytes: 1, dropped: false }, ...changes,
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

test('job exit status: 124 for a timeout, the code, 128+signal, 255 without one', () => {
  assert.is(jobExitStatus(info({ timedOut: true, exitCode: 143 })), 124);
  assert.is(jobExitStatus(info({ exitCode: 7 })), 7);
  assert.is(jobExitStatus(info({ exitCode: null, signal: 'KILL' })), 137);
  assert.is(jobExitStatus(info({ exitCode: null, state: 'LOST' })), 255);
});

test('--schedule times: +DURATION and RFC 3339 with a zone; anything else is refused', () => {
  const now = Date.parse('2026-11-23T10:00:00Z');
  assert.is(parseWhen('+10m', '--schedule', now), '2026-11-23T10:10:00.000Z');
  assert.is(parseWhen('2026-12-01T04:00:00+01:00', '--schedule', now), '2026-12-01T03:00:00.000Z');
  assert.is(parseWhen('2026-12-01 03:00Z', '--schedule', now), '2026-12-01T03:00:00.000Z');
  for (const bad of ['tomorrow', '2026-12-01T03:00:00', '+soon', '2026-13-01T00:00:00Z']) {
    assert.throws(() => parseWhen(bad, '--schedule', now), (e: HerdError) => e.code === 'INVALID_SPEC', bad);
  }
});

test('durations are short in tables', () => {
  assert.is(formatDuration(850), '850ms');
  assert.is(formatDuration(12_340), '12.3s');
  assert.is(formatDuration(245_000), '4m05s');
  assert.is(formatDuration(7_380_000), '2h03m');
  assert.is(formatDuration(273_600_000), '3d04h');
});

test('timestamps start every line, also lines split across chunks', () => {
  const lines = new StampedLines();
  assert.is(lines.push(new TextEncoder().encode('a\nb'), 'T1').toString(), 'T1 a\nT1 b');
  assert.is(lines.push(new TextEncoder().encode('c\nd\n'), 'T2').toString(), 'c\nT2 d\n');
});

test('job table: quoted commands, the host column only for several hosts', () => {
  const table = jobTable([{ host: 'web1', job: info({}) }], false, Date.parse('2026-01-01T00:00:05Z'));
  assert.match(table, /^ID\s+STATE\s+EXIT\s+STARTED\s+DURATION\s+COMMAND\n/);
  assert.match(table, /abcdefabcdef\s+COMPLETED\s+0\s+.*1\.0s\s+echo 'a b'\n$/);
  assert.match(jobTable([{ host: 'web1', job: info({}) }], true), /^HOST\s+ID/);
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
  assert.is(summaryLine([ok, failed, away, auth]), 'herd: 4 hosts: 1 ok, 1 failed (b: exit 3), 1 unreachable (c), 1 errors (d: SSH_AUTH); rerun those with -H @failed');
  const racks = ['web3', 'web1', 'web2', 'web7'].map((n) => host(n, { error: new HerdError('HOST_UNREACHABLE', 'timed out') }));
  assert.is(summaryLine([ok, ...racks]), 'herd: 5 hosts: 1 ok, 4 unreachable (web[1-3,7]); rerun those with -H @failed', 'unreachable hosts folded into a nodeset');
});

test.run();
