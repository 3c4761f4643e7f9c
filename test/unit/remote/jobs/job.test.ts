import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { HerdError } from '../../../../src/protocol/errors.ts';
import type { JobResult } from '../../../../src/protocol/messages.ts';
import { Job, type JobSink } from '../../../../src/remote/jobs/job.ts';
import { planJob } from '../../../../src/remote/jobs/jobPlan.ts';
import { spawnLauncher } from '../../../../src/remote/jobs/launcher.ts';
import { readHostMounts, readHostRoot } from '../../../../src/remote/sandbox/sandbox.ts';

/*
 * A Job's phases (setup → running → ended, or setup → ended) driven by a stand-in for unshare and
 * the init: a shell script that speaks the init's side of the control protocol (sandbox/initControl.ts)
 * as each test tells it. Real processes and FIFOs, no namespaces: runs without root.
 */

const root = mkdtempSync(join(tmpdir(), 'herd-job-test-'));
const jobsDir = join(root, 'jobs');
mkdirSync(jobsDir);
let jobs = 0;

interface Seen {
  events: string[];
  result: JobResult | null;
  error: HerdError | null;
  ended: Promise<void>;
}

/** Starts a job whose "init" is `initScript` (run in the job's directory, fds 3 and 4 the control pipes). */
function startJob(initScript: string, owner = 'alice'): { job: Job; seen: Seen } {
  const jobId = `aaaaaaaa${String(++jobs).padStart(4, '0')}`;
  const init = join(root, `init-${jobId}.sh`);
  writeFileSync(init, `#!/bin/sh\n${initScript}\n`);
  chmodSync(init, 0o755);
  const plan = planJob(
    { t: 'run', argv: ['/bin/true'], env: {}, network: 'none' },
    { jobId, isRoot: false, jobDir: join(jobsDir, jobId), stateDir: root, rootEntries: readHostRoot(), mounts: readHostMounts(), etcFiles: new Set() },
  );
  let ended!: () => void;
  const seen: Seen = { events: [], result: null, error: null, ended: new Promise((resolve) => (ended = resolve)) };
  const sink: JobSink = {
    started: () => void seen.events.push('started'),
    failed: (error) => {
      seen.events.push('failed');
      seen.error = error;
      ended();
    },
    data: (_channel, bytes) => {
      seen.events.push(`data ${Buffer.from(bytes).toString().trim()}`);
      return true;
    },
    exit: (result) => {
      seen.events.push('exit');
      seen.result = result;
      ended();
    },
  };
  const job = Job.launch(plan, jobsDir, { unshare: init, setpriv: '/bin/false' }, '/bin/true', { child: spawnLauncher(jobsDir), cgroup: null, joined: false }, null, { owner, ownerCa: 'ca00000000000001' });
  job.attach(sink);
  return { job, seen };
}

/** Waits for the job's end; one that never comes fails the test instead of hanging it. */
async function endOf(seen: Seen): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the job never ended (events so far: ${seen.events.join(', ') || 'none'})`)), 10_000);
  });
  try {
    await Promise.race([seen.ended, stuck]);
  } finally {
    clearTimeout(timer);
  }
}

/** The init's side: up (holding its output FIFOs open), ready, and waiting for go. */
const UP_AND_READY = 'exec 5<>stdout.pipe 6<>stderr.pipe; echo "pid $$" >&4; echo ready >&4; read go <&3';

test('setup → running → ended: started once, output, the exit status, COMPLETED or FAILED by it', async () => {
  const { job, seen } = startJob(`${UP_AND_READY}; echo hello >&5; exit 3`);
  assert.is(job.result, null, 'no result before it ends');
  assert.is(job.info().state, 'RUNNING');
  await endOf(seen);
  assert.equal(seen.events, ['started', 'data hello', 'exit']);
  assert.is(seen.result?.exitCode, 3);
  assert.equal([seen.result?.stopped, seen.result?.timedOut], [false, false]);
  assert.equal([job.info().state, job.info().reason], ['FAILED', 'exit 3']);
  assert.ok(job.result === seen.result, 'the ended job keeps its result');
});

test('setup → ended: a failed step is a setup failure, never started, with the step named', async () => {
  const { job, seen } = startJob('exec 5<>stdout.pipe 6<>stderr.pipe; echo "pid $$" >&4; echo "fail mounts cannot mount /work" >&4; exit 125');
  await endOf(seen);
  assert.equal(seen.events, ['failed']);
  assert.match(seen.error?.message ?? '', 'job setup failed at mounts: cannot mount /work');
  const info = job.info();
  assert.equal([info.state, info.exitCode], ['FAILED', null]);
  assert.match(info.reason ?? '', 'at mounts');
});

test('a stop in setup kills at once: nothing to ask, the command never ran', async () => {
  const { job, seen } = startJob('exec 5<>stdout.pipe 6<>stderr.pipe; echo "pid $$" >&4; exec sleep 30');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const began = Date.now();
  job.stop(10_000, 'bob');
  await endOf(seen);
  assert.ok(Date.now() - began < 5000, 'no grace period in setup');
  assert.equal(seen.events, ['failed']);
  assert.is(job.info().state, 'FAILED');
});

test('a stop while running: SIGTERM to the init, STOPPED by whoever asked, the status it exited with', async () => {
  const { job, seen } = startJob(`${UP_AND_READY}; trap 'echo bye >&5; exit 143' TERM; echo up >&5; while :; do sleep 0.05; done`);
  while (!seen.events.includes('data up')) await new Promise((resolve) => setTimeout(resolve, 20));
  job.stop(10_000, 'bob');
  await endOf(seen);
  assert.equal(seen.events, ['started', 'data up', 'data bye', 'exit']);
  assert.equal([seen.result?.exitCode, seen.result?.stopped], [143, true]);
  assert.equal([job.info().state, job.info().reason], ['STOPPED', 'stopped by bob']);
  job.stop(0, 'carol');
  assert.is(job.info().reason, 'stopped by bob', 'an ended job ignores a later stop');
});

test('a sink attached after the end hears the whole story', async () => {
  const { job, seen } = startJob(`${UP_AND_READY}; exit 0`);
  await endOf(seen);
  const late: string[] = [];
  job.attach({ started: () => void late.push('started'), failed: () => void late.push('failed'), data: () => true, exit: () => void late.push('exit') });
  assert.equal(late, ['started', 'exit']);
  assert.is(job.info().state, 'COMPLETED');
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test.run();
