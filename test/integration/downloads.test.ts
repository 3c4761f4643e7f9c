import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gate, herd, localHome, sleep, stopAgentsAndWait, stopJobs } from './harness.ts';

/*
 * Files out of jobs (issue 18): herd job cp from an ended and a running job, herd run --download,
 * and a hostile job whose tree tries to make the agent read, or the client write, elsewhere.
 */
const Downloads = suite('downloads: files out of a job\'s /work');
const enabled = gate('downloads.test.ts', { root: true, commands: ['unshare', 'setpriv'] });
const box = localHome('downloads');
const state = join(box.home, 'state');
const opts = { home: box.home, env: { HERD_STATE_DIR: state }, timeoutMs: 60_000 };

Downloads.after(async () => {
  await stopJobs(opts);
  await stopAgentsAndWait(state);
  box.remove();
});

const fresh = (): string => mkdtempSync(join(box.home, 'out-'));

async function detached(script: string): Promise<string> {
  const r = await herd(['run', '--detach', '--', 'sh', '-c', script], opts);
  assert.is(r.code, 0, r.stderr);
  return r.text.trim();
}

Downloads('job cp from an ended job: a tree with modes, an empty file and symlinks as symlinks', async () => {
  const id = await detached('mkdir -p out/sub && printf data > out/sub/f && chmod 640 out/sub/f && printf "#!/bin/sh\\n" > out/x.sh && chmod 755 out/x.sh && : > out/empty && ln -s sub/f out/link && ln -s /etc out/etc && mkfifo out/fifo');
  assert.is((await herd(['job', 'wait', id], opts)).code, 0);
  const dir = fresh();
  const r = await herd(['job', 'cp', '--json', `${id}:out`, dir], opts);
  assert.is(r.code, 0, r.stderr);
  const host = r.json<{ hosts: Array<{ files: number; bytes: number; skipped: string[]; into: string }> }>().hosts[0]!;
  assert.equal([host.files, host.bytes, host.skipped, host.into], [3, 14, ['out/fifo'], dir]);
  assert.is(readFileSync(join(dir, 'out', 'sub', 'f'), 'utf8'), 'data');
  assert.is(statSync(join(dir, 'out', 'sub', 'f')).mode & 0o777, 0o640);
  assert.is(statSync(join(dir, 'out', 'x.sh')).mode & 0o777, 0o755);
  assert.is(statSync(join(dir, 'out', 'empty')).size, 0);
  assert.is(readlinkSync(join(dir, 'out', 'link')), 'sub/f');
  assert.is(readlinkSync(join(dir, 'out', 'etc')), '/etc', 'a symlink to /etc comes as that symlink, never as /etc');
  assert.not.ok(existsSync(join(dir, 'out', 'fifo')));
  const all = fresh();
  assert.is((await herd(['job', 'cp', `${id}:`, all], opts)).code, 0, 'ID: alone is all of /work');
  assert.ok(lstatSync(join(all, 'out', 'sub')).isDirectory());
});

Downloads('modification times come back, for files and directories', async () => {
  const id = await detached('mkdir t && echo x > t/f && touch -d @1600000000 t/f && touch -d @1500000000 t');
  assert.is((await herd(['job', 'wait', id], opts)).code, 0);
  const dir = fresh();
  assert.is((await herd(['job', 'cp', `${id}:t`, dir], opts)).code, 0);
  assert.is(Math.floor(statSync(join(dir, 't', 'f')).mtimeMs / 1000), 1600000000);
  assert.is(Math.floor(statSync(join(dir, 't')).mtimeMs / 1000), 1500000000);
});

Downloads('job cp from a running job; then again over what it brought (files replaced, not followed)', async () => {
  const id = await detached('echo first > note; sleep 2; echo second > note; sleep 30');
  await sleep(500);
  const dir = fresh();
  assert.is((await herd(['job', 'cp', `${id}:note`, dir], opts)).code, 0);
  assert.is(readFileSync(join(dir, 'note'), 'utf8'), 'first\n');
  await sleep(2500);
  assert.is((await herd(['job', 'cp', `${id}:note`, dir], opts)).code, 0);
  assert.is(readFileSync(join(dir, 'note'), 'utf8'), 'second\n');
  assert.is((await herd(['job', 'stop', '--grace', '0', id], opts)).code, 0);
});

Downloads('a hostile job: its symlinks are never followed by the agent, and a path out of /work is refused', async () => {
  const id = await detached('mkdir d && ln -s /etc d/etc && ln -s / root && ln -s /etc/shadow shadow');
  assert.is((await herd(['job', 'wait', id], opts)).code, 0);
  const dir = fresh();
  for (const [path, why] of [['d/etc/passwd', /never follows the job's symlinks/], ['root/etc/shadow', /never follows/], ['../../../../etc/passwd', /not in the job's \/work/], ['/etc/passwd', /not in the job's \/work/]] as const) {
    const r = await herd(['job', 'cp', `${id}:${path}`, dir], opts);
    assert.is(r.code, 2, `${path}: ${r.stderr}`);
    assert.match(r.stderr, why, path);
  }
  const shadow = await herd(['job', 'cp', `${id}:shadow`, dir], opts);
  assert.is(shadow.code, 0, shadow.stderr);
  assert.ok(lstatSync(join(dir, 'shadow')).isSymbolicLink(), 'the symlink itself, not what it names');
  assert.is(readlinkSync(join(dir, 'shadow')), '/etc/shadow');
});

Downloads('run --download brings the job\'s files back once it ends', async () => {
  const dir = fresh();
  const r = await herd(['run', '--json', '--download', 'result', '--download-dir', dir, '--', 'sh', '-c', 'mkdir result && echo 42 > result/answer'], opts);
  assert.is(r.code, 0, r.stderr);
  assert.equal(r.json<{ hosts: Array<{ download: unknown }> }>().hosts[0]!.download, { files: 1, bytes: 3, into: dir });
  assert.is(readFileSync(join(dir, 'result', 'answer'), 'utf8'), '42\n');
  const refused = await herd(['run', '--detach', '--download', 'x', '--', 'true'], opts);
  assert.is(refused.code, 2);
  assert.match(refused.stderr, /--download waits for the job to end/);
});

if (enabled) Downloads.run();
