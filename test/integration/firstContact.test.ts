import { existsSync, readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { nodeStartsFile, up, type Testbed } from '../../fixtures/testbed/testbed.ts';
import { configureHerd } from '../../bench/testbedClient.ts';
import { agentPids, gate, herd, loud, sleep, type HerdRun } from './harness.ts';

/*
 * First contact in one runtime start per host (issue 17): with no agent running, the agent that
 * bootstrap.sh starts serves the SSH channel itself (no relay process before it), then the session
 * ends as any other. Every node process on the testbed hosts is counted (a preload script), however it started.
 */
const Contact = suite('first contact: one runtime start per host');
const enabled = gate('firstContact.test.ts', { root: true, commands: ['sshd', 'ip', 'nsenter'] });
let bed: Testbed;

Contact.before(loud(async () => {
  bed = await up(4, { countNodeStarts: () => true });
  configureHerd(bed);
}));

Contact.after(() => bed?.down());

const on = (host: string, args: string[], extra: string[] = []): Promise<HerdRun> => herd(['run', ...extra, '-H', host, '--accept-new', ...args], { home: bed.home, timeoutMs: 60_000 });

/** What the wrapper recorded: one line per start of node on host `n` ("pid helper --state DIR [agent]"). */
function starts(n: number): string[] {
  const file = nodeStartsFile(bed, n);
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter((l) => l !== '') : [];
}

const stateOf = (n: number): string => `/proc/${bed.hosts[n - 1]!.sshdPid}/root/var/lib/herd`;

/** A host's processes with `word` as an argument (sh -c SCRIPT herd-bootstrap ...), or in the helper's path. */
const running = (n: number, word: string): number[] =>
  bed.processes(bed.hosts[n - 1]!).filter((p) => p.argv.some((a) => a === word || (word === 'helper-' && /\/helper-[0-9a-f]{64}\.mjs$/.test(a)))).map((p) => p.pid);

async function until(check: () => boolean, ms = 5000): Promise<boolean> {
  for (let waited = 0; !check() && waited < ms; waited += 100) await sleep(100);
  return check();
}

Contact('the first contact starts node once, as the agent that serves the channel; the job holds none of it; warm runs start none', async () => {
  // The descriptors of a process the job's shell starts (the shell's own would show the pipe of a pipeline being made).
  const first = await on('h1', ['--json', '--', 'sh', '-c', 'sleep 1 & ls /proc/$!/fd | tr "\\n" " "']);
  assert.is(first.code, 0, first.stderr);
  assert.is(first.json<{ hosts: Array<{ stdout: string }> }>().hosts[0]!.stdout, '0 1 2 ', 'the job has stdin, stdout and stderr only');
  const once = starts(1);
  assert.is(once.length, 1, `one runtime start: ${once.join(' | ')}`);
  assert.match(once[0]!, / agent$/, 'and it is the agent');
  assert.ok(await until(() => running(1, 'herd-bootstrap').length === 0), 'the bootstrap (the SSH session) ended with the connection');
  const [agent] = agentPids(stateOf(1));
  assert.ok(agent !== undefined && running(1, 'helper-').includes(agent), 'the agent stays');
  for (let i = 0; i < 3; i++) assert.is((await on('h1', ['--', 'true'])).code, 0);
  assert.is(starts(1).length, 1, 'warm runs reach the running agent: no runtime starts');
});

Contact('through OpenSSH too: the ssh process ends with the run, the agent stays, a detached job keeps running', async () => {
  const address = bed.hosts[1]!.address;
  const run = await on('h2', ['--detach', '--', 'sleep', '20'], ['--transport', 'openssh']);
  assert.is(run.code, 0, run.stderr);
  const jobId = run.text.trim();
  assert.match(jobId, /^[0-9a-f]{12}$/);
  assert.is(starts(2).length, 1, starts(2).join(' | '));
  const sshLeft = (): boolean => bed.processes(bed.hosts[1]!).some((p) => p.argv[0]?.startsWith('sshd:') === true && !p.argv.join(' ').includes('[listener]'));
  assert.ok(await until(() => !sshLeft()), `no SSH session left on the host (${address})`);
  const status = await herd(['job', 'status', '-H', 'h2', '--json', jobId], { home: bed.home });
  assert.is(status.code, 0, status.stderr);
  assert.match(status.text, /"state": ?"RUNNING"/);
  await herd(['job', 'stop', '-H', 'h2', jobId], { home: bed.home });
});

Contact('eight first contacts at once: one agent, each runs its job, one runtime start each (the later ones relay)', async () => {
  const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => on('h3', ['--', 'echo', `contact-${i}`], ['--json'])));
  type Doc = { hosts: Array<{ stdout: string; connection?: { direct: boolean } }> };
  const hosts = runs.map((r) => (r.code === 0 ? r.json<Doc>().hosts[0] : undefined));
  assert.equal(runs.map((r, i) => [r.code, hosts[i]?.stdout]), runs.map((_, i) => [0, `contact-${i}\n`]), runs.map((r) => r.stderr).join('\n'));
  // A contact that comes once the agent listens reaches its socket directly (root's is guessed): no
  // runtime starts for it. Every other one starts exactly one: the agent, or a relay to it.
  const direct = hosts.filter((h) => h?.connection?.direct === true).length;
  const counted = starts(3);
  assert.ok(direct < 8, 'the first contact cannot have been direct');
  assert.is(counted.length, 8 - direct, `${direct} direct; ${counted.join(' | ')}`);
  assert.is(agentPids(stateOf(3)).length, 1, 'one agent');
  assert.ok(await until(() => running(3, 'herd-bootstrap').length === 0), 'every session ended');
});

Contact('the agent killed while it serves the first connection: the connection ends at once, the restarted agent has the job', async () => {
  const pending = on('h4', ['--', 'sh', '-c', 'echo started; sleep 4; echo done']);
  assert.ok(await until(() => agentPids(stateOf(4)).length === 1, 10_000), 'an agent came up');
  await sleep(500);
  const [agent] = agentPids(stateOf(4));
  process.kill(agent!, 'SIGKILL');
  const began = Date.now();
  const run = await pending;
  assert.ok(Date.now() - began < 10_000, 'the client heard of it, rather than waiting for ever');
  assert.ok(await until(() => running(4, 'herd-bootstrap').length === 0), 'the SSH session ended');
  assert.ok(await until(() => agentPids(stateOf(4)).some((p) => p !== agent)), 'the supervisor started another agent');
  assert.ok(run.code === 0 ? run.text === 'started\ndone\n' : run.code === 255, `${run.code}: ${run.text} ${run.stderr}`);
});

if (enabled) Contact.run();
