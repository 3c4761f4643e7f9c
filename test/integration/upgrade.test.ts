import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO } from '../../fixtures/testbed/testbed.ts';
import { agentPids, gate, herd, localHome, sleep, stopAgentsAndWait } from './harness.ts';

/*
 * A new herd version meets the agent of the old one (issue 17): the new client gets an agent of its
 * own beside it, sees the old agent's running job and follows it to its end; the old agent is never
 * killed: it finishes its job and then, idle beside a newer agent, exits by itself.
 */
const Upgrade = suite('a new helper version beside the old agent');
const enabled = gate('upgrade.test.ts', { root: true, commands: ['unshare', 'nsenter'] });
const box = localHome('upgrade');
const state = join(box.home, 'state');
const opts = { home: box.home, env: { HERD_STATE_DIR: state } };

/** The same CLI with a helper of another version (one more comment line: another sha256). */
function olderBuild(): string {
  const dir = join(box.home, 'older');
  mkdirSync(dir, { recursive: true });
  const helper = Buffer.concat([readFileSync(join(REPO, 'dist', 'helper.mjs')), Buffer.from('\n// an older herd\n')]);
  writeFileSync(join(dir, 'helper.mjs'), helper);
  const sha256 = createHash('sha256').update(helper).digest('hex');
  const cli = readFileSync(join(REPO, 'dist', 'herd.js'), 'utf8');
  const asset = /sha256:"[0-9a-f]{64}",size:\d+/;
  assert.ok(asset.test(cli), 'the build names its helper as sha256:"…",size:N');
  writeFileSync(join(dir, 'herd.js'), cli.replace(asset, `sha256:"${sha256}",size:${helper.length}`));
  return join(dir, 'herd.js');
}

Upgrade.after(async () => {
  await stopAgentsAndWait(state);
  box.remove();
});

Upgrade('the new version sees and follows the old agent\'s job; the old agent finishes it, then leaves by itself', async () => {
  const older = olderBuild();
  const started = await herd(['run', '--detach', '--', 'sh', '-c', 'echo begun; sleep 3; echo finished; exit 3'], { ...opts, cli: older });
  assert.is(started.code, 0, started.stderr);
  const id = started.text.trim();
  const [old] = agentPids(state);
  assert.ok(old !== undefined, 'the old version\'s agent');
  const listed = await herd(['job', 'list', '--json'], opts);
  assert.is(listed.code, 0, listed.stderr);
  const jobs = listed.json<{ hosts: Array<{ jobs: Array<{ id: string; state: string }> }> }>().hosts[0]!.jobs;
  assert.equal(jobs.filter((j) => j.id === id).map((j) => j.state), ['RUNNING'], 'the new version sees the job');
  const pids = agentPids(state);
  assert.is(pids.length, 2, 'the new agent runs beside the old one');
  const followed = await herd(['job', 'logs', '-f', id], opts);
  assert.is(followed.text, 'begun\nfinished\n', followed.stderr);
  const waited = await herd(['job', 'wait', id], opts);
  assert.is(waited.code, 3, `its exit status, as the old agent recorded it: ${waited.stderr}`);
  const stillOld = await herd(['job', 'status', '--json', id], { ...opts, cli: older });
  assert.match(stillOld.text, /"state": ?"FAILED"/);
  let gone = false;
  for (let i = 0; i < 250 && !gone; i++) {
    await sleep(100);
    gone = !agentPids(state).includes(old!);
  }
  assert.ok(gone, 'idle beside a newer agent, the old one exited by itself');
  assert.is(agentPids(state).length, 1, 'the new one stays');
});

if (enabled) Upgrade.run();
