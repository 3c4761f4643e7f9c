import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { agentPids, gate, herd, localHome, sleep, stopAgentsAndWait, stopJobs } from './harness.ts';

const Jobs = suite('jobs: detach, logs, status, stop, wait, schedule');
const enabled = gate('jobs.test.ts', { root: true, commands: ['unshare', 'nsenter'] });
const box = localHome('jobs');
const state = join(box.home, 'state');
const opts = { home: box.home, env: { HERD_STATE_DIR: state } };

interface Info {
  id: string;
  state: string;
  reason: string | null;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number | null;
  startedAt: string | null;
  scheduledFor: string | null;
  owner: string;
  usage?: { cpuMs?: number; peakMemoryBytes?: number };
  log: { bytes: number; maxBytes: number; dropped: boolean };
}

async function detach(command: string[], extra: string[] = []): Promise<string> {
  const r = await herd(['run', '--detach', ...extra, '--', ...command], opts);
  assert.is(r.code, 0, r.stderr);
  const id = r.text.trim();
  assert.match(id, /^[0-9a-f]{12}$/);
  return id;
}

async function status(id: string): Promise<Info> {
  const r = await herd(['job', 'status', '--json', id], opts);
  assert.is(r.code, 0, r.stderr);
  return r.json<{ hosts: Array<{ job: Info }> }>().hosts[0]!.job;
}

/** The lines "1".."n" a job writes with `seq`, as one string. */
function seqText(n: number): string {
  return Array.from({ length: n }, (_, i) => `${i + 1}\n`).join('');
}

Jobs.after(async () => {
  try {
    await stopJobs(opts);
    await stopAgentsAndWait(state);
  } finally {
    box.remove();
  }
});

Jobs('--detach prints the id; status, logs -f and wait see the job through to its end', async () => {
  const id = await detach(['sh', '-c', 'echo one; sleep 0.5; echo two >&2; sleep 0.5; echo three; exit 4']);
  const running = await status(id);
  assert.is(running.state, 'RUNNING');
  assert.is(running.exitCode, null);
  assert.match(running.owner, /@/);
  const followed = await herd(['job', 'logs', '-f', id], opts);
  assert.is(followed.code, 0, followed.stderr);
  assert.is(followed.text, 'one\nthree\n');
  assert.is(followed.stderr, 'two\n');
  const waited = await herd(['job', 'wait', id], opts);
  assert.is(waited.code, 4, 'wait exits with the job\'s status');
  const done = await status(id);
  assert.is(done.state, 'FAILED');
  assert.is(done.reason, 'exit 4');
  assert.is(done.exitCode, 4);
  assert.ok((done.durationMs ?? 0) >= 1000, `duration ${done.durationMs}`);
  assert.ok(done.usage?.cpuMs !== undefined && done.usage.peakMemoryBytes !== undefined, 'CPU time and peak memory recorded');
  const human = await herd(['job', 'status', id.slice(0, 5)], opts);
  assert.match(human.text, /state\s+FAILED \(exit 4\)/);
  assert.match(human.text, /peak memory\s+\d/);
  const listed = await herd(['job', 'list', '--status', 'failed'], opts);
  assert.match(listed.text, new RegExp(`^${id}\\s+FAILED\\s+4\\s`, 'm'));
});

Jobs('an id prefix works when unique; an ambiguous or unknown one is refused', async () => {
  const ids: string[] = [];
  // 17 ids over 16 hex digits: two share a first digit.
  while (true) {
    ids.push(await detach(['true']));
    const firsts = ids.map((id) => id[0]);
    if (new Set(firsts).size < firsts.length) break;
  }
  const clash = ids.find((id, i) => ids.findIndex((other) => other[0] === id[0]) !== i)!;
  const ambiguous = await herd(['job', 'status', clash[0]!], opts);
  assert.is(ambiguous.code, 2);
  assert.match(ambiguous.stderr, /is ambiguous: it matches .*\[INVALID_SPEC\]/);
  const unique = await herd(['job', 'status', '--json', clash], opts);
  assert.is(unique.code, 0, unique.stderr);
  const unknown = await herd(['job', 'status', 'ffffffffffff'], opts);
  assert.is(unknown.code, 255);
  assert.match(unknown.stderr, /no job ffffffffffff .*\[JOB_NOT_FOUND\]/);
  const malformed = await herd(['job', 'logs', 'xyz'], opts);
  assert.is(malformed.code, 2);
  for (const id of ids) assert.is((await herd(['job', 'delete', id], opts)).code, 0);
});

Jobs('--timeout stops the job: FAILED, timedOut, exit 124', async () => {
  const started = Date.now();
  const r = await herd(['run', '--timeout', '1s', '--', 'sh', '-c', 'echo before; sleep 30'], opts);
  assert.is(r.code, 124, r.stderr);
  assert.is(r.text, 'before\n');
  assert.ok(Date.now() - started < 10_000, 'stopped at the timeout, not after the command');
  const id = await detach(['sleep', '30'], ['--timeout', '500ms']);
  const waited = await herd(['job', 'wait', '--json', id], opts);
  assert.is(waited.code, 124);
  const info = waited.json<{ hosts: Array<{ job: Info; exitCode: number }> }>().hosts[0]!;
  assert.is(info.job.state, 'FAILED');
  assert.ok(info.job.timedOut);
  assert.match(info.job.reason ?? '', /timed out after 500ms/);
  assert.is(info.exitCode, 124);
});

Jobs('stop: SIGTERM, then SIGKILL after the grace period for a command that ignores it', async () => {
  const id = await detach(['sh', '-c', 'trap "echo ignored TERM" TERM; echo ready; while :; do sleep 0.1; done']);
  await sleep(300);
  const started = Date.now();
  const r = await herd(['job', 'stop', '--grace', '1s', id], opts);
  const elapsed = Date.now() - started;
  assert.is(r.code, 0, r.stderr);
  assert.match(r.text, new RegExp(`${id}  STOPPED \\(stopped by .*\\)`));
  assert.ok(elapsed >= 1000 && elapsed < 8000, `SIGKILL came after the 1 s grace (${elapsed} ms)`);
  const info = await status(id);
  assert.is(info.state, 'STOPPED');
  assert.is(info.signal, 'KILL', 'killed by SIGKILL');
  const logs = await herd(['job', 'logs', id], opts);
  assert.is(logs.text, 'ready\nignored TERM\n', 'the command saw the SIGTERM first');
  const again = await herd(['job', 'stop', id], opts);
  assert.is(again.code, 0, 'stopping a finished job is not an error');
});

Jobs('logs: --tail, --stdout, --stderr, --timestamps, --from-byte and --json select what was recorded', async () => {
  const id = await detach(['sh', '-c', 'seq 1 5; echo e1 >&2; seq 6 10; echo e2 >&2']);
  await herd(['job', 'wait', id], opts);
  assert.is((await herd(['job', 'logs', '--stdout', id], opts)).text, seqText(10));
  const errOnly = await herd(['job', 'logs', '--stderr', id], opts);
  assert.is(errOnly.text, '');
  assert.is(errOnly.stderr, 'e1\ne2\n');
  assert.is((await herd(['job', 'logs', '--stdout', '--tail', '3', id], opts)).text, '8\n9\n10\n');
  assert.is((await herd(['job', 'logs', '--stdout', '--tail', '0', id], opts)).text, '');
  assert.is((await herd(['job', 'logs', '--stdout', '--from-byte', '15', id], opts)).text, seqText(10).slice(15));
  const stamped = await herd(['job', 'logs', '--stdout', '--timestamps', id], opts);
  const lines = stamped.text.trimEnd().split('\n');
  assert.is(lines.length, 10);
  for (const [i, line] of lines.entries()) assert.match(line, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z ${i + 1}$`));
  const json = await herd(['job', 'logs', '--json', id], opts);
  const doc = json.json<{ schema: string; hosts: Array<{ job: Info; stdout: string; stderr: string }> }>().hosts[0]!;
  assert.is(json.json<{ schema: string }>().schema, 'herd.job-logs/1');
  assert.is(doc.stdout, seqText(10));
  assert.is(doc.stderr, 'e1\ne2\n');
  assert.is(doc.job.state, 'COMPLETED');
});

Jobs('two followers started mid-job see identical, complete output', async () => {
  const id = await detach(['sh', '-c', 'i=0; while [ $i -lt 40 ]; do i=$((i+1)); seq $((i*100-99)) $((i*100)); sleep 0.05; done']);
  await sleep(500);
  const [a, b] = await Promise.all([herd(['job', 'logs', '-f', id], opts), herd(['job', 'logs', '-f', id], opts)]);
  assert.is(a.code, 0, a.stderr);
  assert.is(b.code, 0, b.stderr);
  assert.is(a.text, seqText(4000), 'nothing skipped, nothing repeated');
  assert.is(b.text, a.text);
});

Jobs('the log is capped by --max-log-size with a visible note; the attached run still gets everything', async () => {
  const r = await herd(['run', '--max-log-size', '1K', '--json', '--', 'sh', '-c', 'seq 1 2000'], opts);
  const run = r.json<{ hosts: Array<{ stdout: string; jobId: string }> }>().hosts[0]!;
  assert.is(run.stdout, seqText(2000));
  const logs = await herd(['job', 'logs', run.jobId], opts);
  assert.is(logs.text, seqText(2000).slice(0, 1024));
  assert.match(logs.stderr, /output log capped at 1024 bytes/);
  const info = await status(run.jobId);
  assert.ok(info.log.dropped);
  assert.is(info.log.bytes, 1024);
});

Jobs('a job writing 200 MB at full speed: the follower gets every byte, the agent\'s memory stays bounded', async () => {
  const id = await detach(['head', '-c', '200000000', '/dev/urandom'], ['--max-log-size', '256M']);
  const follower = await herd(['job', 'logs', '-f', '--stdout', id], { ...opts, timeoutMs: 120_000 });
  assert.is(follower.code, 0, follower.stderr);
  assert.is(follower.stdout.length, 200_000_000);
  const recorded = (await status(id)).log.bytes;
  assert.is(recorded, 200_000_000);
  // The agent's peak resident memory over its whole life: the log on disk is the buffer, not RAM.
  const [agent] = agentPids(state);
  const peakKb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent}/status`, 'utf8'))?.[1]);
  assert.ok(peakKb > 0 && peakKb < 160 * 1024, `agent peak RSS ${Math.round(peakKb / 1024)} MiB`);
  const hashOf = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  const again = await herd(['job', 'logs', '--stdout', id], { ...opts, timeoutMs: 120_000 });
  assert.is(hashOf(again.stdout), hashOf(follower.stdout), 'a second read gives the same bytes');
  assert.is((await herd(['job', 'delete', id], opts)).code, 0);
});

Jobs('--schedule: SCHEDULED in the list, survives an agent restart, starts on time; stop cancels', async () => {
  const id = await detach(['sh', '-c', 'echo scheduled-run; date +%s'], ['--schedule', '+3s']);
  const info = await status(id);
  assert.is(info.state, 'SCHEDULED');
  assert.ok(info.scheduledFor !== null && Math.abs(Date.parse(info.scheduledFor) - Date.now() - 3000) < 2500, info.scheduledFor ?? '');
  // The agent dies without warning; the next contact starts another, which arms the schedule again.
  for (const pid of agentPids(state)) process.kill(pid, 'SIGKILL');
  await sleep(200);
  const listed = await herd(['job', 'list', '--status', 'scheduled'], opts);
  assert.match(listed.text, new RegExp(`^${id}\\s+SCHEDULED`, 'm'));
  const waited = await herd(['job', 'wait', id], opts);
  assert.is(waited.code, 0, waited.stderr);
  const logs = await herd(['job', 'logs', id], opts);
  const [line, at] = logs.text.trim().split('\n');
  assert.is(line, 'scheduled-run');
  assert.ok(Number(at) * 1000 >= Date.parse(info.scheduledFor!) - 1000, 'it did not start early');
  const cancelled = await detach(['echo', 'never'], ['--schedule', '+1h']);
  const stop = await herd(['job', 'stop', cancelled], opts);
  assert.match(stop.text, /STOPPED \(cancelled by .* before it started\)/);
  const late = await herd(['run', '--schedule', 'tomorrow', '--', 'true'], opts);
  assert.is(late.code, 2);
  assert.match(late.stderr, /--schedule: "tomorrow" is not a time/);
});

Jobs('a RUNNING record no agent watches is LOST: after a reboot, or when its agent vanished', async () => {
  const dir = join(state, 'jobs');
  const record = (id: string, changes: Record<string, unknown>): void => {
    mkdirSync(join(dir, id), { recursive: true });
    const base = {
      id, argv: ['sleep', '100'], state: 'RUNNING', reason: null, owner: 'test', hostname: id, network: 'none', ip: null,
      createdAt: new Date().toISOString(), scheduledFor: null, startedAt: new Date().toISOString(), endedAt: null, durationMs: null,
      exitCode: null, signal: null, oomKilled: false, timedOut: false, timeoutMs: null, log: { bytes: 0, maxBytes: 1024, dropped: false },
      agentPid: process.pid, bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    };
    writeFileSync(join(dir, id, 'job.json'), JSON.stringify({ ...base, ...changes }));
  };
  record('aaaaaaaaaaa1', { bootId: '00000000-0000-0000-0000-000000000000' });
  // A pid that is not a herd helper (this test runner), as after the agent died and the pid was reused;
  // the job's init is gone too, and wrote no exit status.
  record('aaaaaaaaaaa2', { agentPid: process.pid, initPid: 999_999_999, initStart: '1' });
  // Its init is gone as well, but wrote the command's exit status first.
  record('aaaaaaaaaaa3', { agentPid: process.pid, initPid: 999_999_999, initStart: '1' });
  writeFileSync(join(dir, 'aaaaaaaaaaa3', 'status'), 'exit 6\n');
  const rebooted = await status('aaaaaaaaaaa1');
  assert.is(rebooted.state, 'LOST');
  assert.match(rebooted.reason ?? '', /host rebooted/);
  const vanished = await status('aaaaaaaaaaa2');
  assert.is(vanished.state, 'LOST');
  assert.match(vanished.reason ?? '', /ended while no agent watched it; its exit status was not recorded/);
  const ended = await status('aaaaaaaaaaa3');
  assert.is(ended.state, 'FAILED');
  assert.is(ended.exitCode, 6, 'the exit status the init recorded');
  const waited = await herd(['job', 'wait', 'aaaaaaaaaaa1'], opts);
  assert.is(waited.code, 255, 'a LOST job has no exit status');
});

/** The shell that restarts this state directory's agent when it dies. */
function supervisorPid(): number | undefined {
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes('herd-agent-supervisor') && argv.includes(state)) return Number(entry);
    } catch {
      // gone
    }
  }
  return undefined;
}

Jobs('SIGKILL of the agent mid-job: a new agent takes the job over; its output and exit status are complete', async () => {
  const id = await detach(['sh', '-c', 'i=0; while [ $i -lt 30 ]; do i=$((i+1)); seq $((i*100-99)) $((i*100)); sleep 0.1; done; exit 5']);
  // A follower connected to the agent that dies reconnects to the next one and resumes where it was.
  const follower = herd(['job', 'logs', '-f', '--stdout', id], opts);
  await sleep(1000);
  const [before] = agentPids(state);
  assert.ok(before !== undefined);
  process.kill(before, 'SIGKILL');
  const followed = await follower;
  assert.is(followed.code, 0, followed.stderr);
  assert.is(followed.text, seqText(3000), 'the follower saw every line once');
  const waited = await herd(['job', 'wait', id], opts);
  assert.is(waited.code, 5, waited.stderr);
  const [after] = agentPids(state);
  assert.ok(after !== undefined && after !== before, 'another agent runs');
  const logs = await herd(['job', 'logs', id], opts);
  assert.is(logs.text, seqText(3000), 'every line once, in order, across the change of agent');
  assert.match(logs.stderr, /a new agent \(pid \d+\) took it over/);
  const info = await status(id);
  assert.is(info.state, 'FAILED');
  assert.is(info.exitCode, 5);
  assert.ok(info.usage?.cpuMs !== undefined, 'its cgroup was read by the new agent');
});

Jobs('agent and its supervisor killed, the job ends meanwhile: the next agent records its exit status', async () => {
  const id = await detach(['sh', '-c', 'echo started; sleep 1; echo finished; exit 9']);
  await sleep(300);
  const supervisor = supervisorPid();
  assert.ok(supervisor !== undefined, 'the agent runs under its supervisor');
  process.kill(supervisor, 'SIGKILL');
  for (const pid of agentPids(state)) process.kill(pid, 'SIGKILL');
  await sleep(2000);
  const info = await status(id);
  assert.is(info.state, 'FAILED');
  assert.is(info.exitCode, 9);
  const logs = await herd(['job', 'logs', id], opts);
  assert.match(logs.text, /^started\n/, 'what was recorded before the agent died');
});

Jobs('delete refuses a running job; prune removes finished ones, --older-than keeps recent ones', async () => {
  const id = await detach(['sleep', '30']);
  const refused = await herd(['job', 'delete', id], opts);
  assert.is(refused.code, 255);
  assert.match(refused.stderr, /\[JOB_RUNNING\] — stop it first/);
  await herd(['job', 'stop', '--grace', '0', id], opts);
  const kept = await herd(['job', 'prune', '--older-than', '1h', '--json'], opts);
  assert.equal(kept.json<{ hosts: Array<{ pruned: Info[] }> }>().hosts[0]!.pruned, []);
  const pruned = await herd(['job', 'prune', '--json'], opts);
  const gone = pruned.json<{ hosts: Array<{ pruned: Info[] }> }>().hosts[0]!.pruned.map((j) => j.id);
  assert.ok(gone.includes(id), 'the stopped job was pruned');
  const after = await herd(['job', 'list', '--json'], opts);
  const left = after.json<{ hosts: Array<{ jobs: Info[] }> }>().hosts[0]!.jobs;
  assert.ok(left.every((j) => j.state === 'RUNNING' || j.state === 'SCHEDULED'), 'only unfinished jobs are left');
});

if (enabled) Jobs.run();
