import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { agentSocket, rawClient } from './rawClient.ts';
import { MAX_STAGES_AT_ONCE } from '../../src/protocol/limits.ts';
import { agentPids, gate, herd, localHome, stopAgentsAndWait, stopJobs, watchPeak } from './harness.ts';

/*
 * herd run --upload on this machine's own agent (issue 18): what a job gets in its /work, what a
 * second run sends (nothing), uploads of detached and scheduled jobs across an agent restart, and
 * a hostile client (frames written by hand) that tries to write outside
 * the job's tree: each attempt refused before anything is written.
 */
const Uploads = suite('uploads: files into a job\'s /work');
const enabled = gate('uploads.test.ts', { root: true, commands: ['unshare', 'setpriv'] });
const box = localHome('uploads');
const state = join(box.home, 'state');
const src = join(box.home, 'src');
const opts = { home: box.home, env: { HERD_STATE_DIR: state }, timeoutMs: 60_000 };

interface RunDoc {
  hosts: Array<{ stdout: string; stderr: string; exitCode: number; error: { code: string; message: string } | null; upload: { files: number; bytes: number; sentBytes: number } | null }>;
}
const runJson = async (args: string[]): Promise<RunDoc['hosts'][number]> => {
  const r = await herd(['run', '--json', ...args], { ...opts, cwd: src });
  return r.json<RunDoc>().hosts[0]!;
};

Uploads.before(() => {
  mkdirSync(join(src, 'data', 'sub'), { recursive: true });
  writeFileSync(join(src, 'run.sh'), '#!/bin/sh\necho "ran with $(cat data/sub/f.txt)"\n');
  chmodSync(join(src, 'run.sh'), 0o750);
  writeFileSync(join(src, 'data', 'sub', 'f.txt'), 'hello');
  chmodSync(join(src, 'data', 'sub', 'f.txt'), 0o640);
  writeFileSync(join(src, 'data', 'empty'), '');
  symlinkSync('sub/f.txt', join(src, 'data', 'link'));
  symlinkSync('/etc/hostname', join(src, 'data', 'abs-link'));
});

Uploads.after(async () => {
  await stopJobs(opts);
  await stopAgentsAndWait(state);
  box.remove();
});

Uploads('a script and a nested directory: modes, an empty file and symlinks (as symlinks) kept; ./run.sh runs', async () => {
  const first = await runJson(['--upload', 'run.sh', '--upload', 'data:in/data', '--', 'sh', '-c',
    'cd in && ../run.sh; stat -c "%n %a %F" ../run.sh data data/sub data/sub/f.txt data/empty data/link data/abs-link; readlink data/link data/abs-link']);
  assert.is(first.error, null, JSON.stringify(first.error));
  assert.is(first.stdout, [
    'ran with hello',
    '../run.sh 750 regular file',
    'data 755 directory',
    'data/sub 755 directory',
    'data/sub/f.txt 640 regular file',
    'data/empty 644 regular empty file',
    'data/link 777 symbolic link',
    'data/abs-link 777 symbolic link',
    'sub/f.txt',
    '/etc/hostname',
    '',
  ].join('\n'));
  const bytes = statSync(join(src, 'run.sh')).size + 'hello'.length;
  assert.equal(first.upload, { files: 3, bytes, sentBytes: bytes });
  const relative = await herd(['run', '--upload', 'run.sh', '--upload', 'data', '--', './run.sh'], { ...opts, cwd: src });
  assert.is(relative.code, 0, relative.stderr);
  assert.is(relative.text, 'ran with hello\n', 'a relative command is found in the job\'s /work');
});

Uploads('modification times come along, to the second as stat shows them, for files and directories', async () => {
  execFileSync('sh', ['-c', `mkdir -p ${join(src, 'dated')} && echo x > ${join(src, 'dated', 'f')} && touch -d @1600000000 ${join(src, 'dated', 'f')} && touch -d @1500000000 ${join(src, 'dated')}`]);
  const host = await runJson(['--upload', 'dated', '--', 'stat', '-c', '%n %Y', 'dated', 'dated/f']);
  assert.is(host.stdout, 'dated 1500000000\ndated/f 1600000000\n', JSON.stringify(host.error));
});

Uploads('a second run sends no content; a changed file is sent again, alone', async () => {
  const again = await runJson(['--upload', 'run.sh', '--upload', 'data', '--', './run.sh']);
  assert.is(again.stdout, 'ran with hello\n');
  const script = statSync(join(src, 'run.sh')).size;
  assert.equal(again.upload, { files: 3, bytes: script + 5, sentBytes: 0 });
  writeFileSync(join(src, 'data', 'sub', 'f.txt'), 'changed');
  const changed = await runJson(['--upload', 'run.sh', '--upload', 'data', '--', './run.sh']);
  assert.is(changed.stdout, 'ran with changed\n');
  assert.equal(changed.upload, { files: 3, bytes: script + 7, sentBytes: 7 });
});

Uploads('what cannot be uploaded is refused before any host: a device, a FIFO, a place outside /work', async () => {
  execFileSync('mkfifo', [join(box.home, 'fifo')]);
  for (const [flag, why] of [['/dev/null', /\/dev\/null is a device file/], [join(box.home, 'fifo'), /is a FIFO/], ['run.sh:/etc/run.sh', /outside the job's \/work/], ['missing.txt', /no such file/]] as const) {
    const r = await herd(['run', '--upload', flag, '--', 'true'], { ...opts, cwd: src });
    assert.is(r.code, 2, `${flag}: ${r.stderr}`);
    assert.match(r.stderr, why);
    assert.match(r.stderr, /INVALID_SPEC/);
  }
});

Uploads('a detached and a scheduled job keep their uploads across an agent restart', async () => {
  const started = await herd(['run', '--detach', '--upload', 'data', '--', 'sh', '-c', 'sleep 3; cat data/sub/f.txt'], { ...opts, cwd: src });
  assert.is(started.code, 0, started.stderr);
  const detached = started.text.trim();
  const scheduled = await herd(['run', '--schedule', '+4s', '--upload', 'run.sh', '--upload', 'data', '--', './run.sh'], { ...opts, cwd: src });
  assert.is(scheduled.code, 0, scheduled.stderr);
  const later = /[0-9a-f]{12}/.exec(scheduled.text)?.[0];
  assert.ok(later !== undefined, scheduled.text);
  await stopAgentsAndWait(state);
  for (const id of [detached, later!]) {
    const waited = await herd(['job', 'wait', id], opts);
    assert.is(waited.code, 0, `${id}: ${waited.stderr}`);
  }
  assert.is((await herd(['job', 'logs', detached], opts)).text, 'changed');
  assert.is((await herd(['job', 'logs', later!], opts)).text, 'ran with changed\n');
});

Uploads('a 2 GiB file goes through with the client and the agent each under 160 MiB', async () => {
  const big = join(box.home, 'big.bin');
  // Sparse: read back as zeros at memory speed, and still every byte hashed, sent and stored.
  execFileSync('truncate', ['-s', '2G', big]);
  let client = { peakMb: (): number => 0 };
  const r = await herd(['run', '--json', '--upload', `${big}:big.bin`, '--', 'sh', '-c', 'wc -c < big.bin; rm big.bin'], { ...opts, timeoutMs: 300_000, onStart: (child) => (client = watchPeak(child)) });
  const host = r.json<RunDoc>().hosts[0]!;
  assert.is(host.stdout, `${2 * 1024 ** 3}\n`, JSON.stringify(host.error));
  assert.is(host.upload?.sentBytes, 2 * 1024 ** 3);
  const agent = agentPids(state)[0]!;
  const agentMb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${agent}/status`, 'utf8'))?.[1]) / 1024;
  console.log(`\n    2 GiB upload: client peak ${client.peakMb()} MiB, agent peak ${agentMb.toFixed(0)} MiB`);
  assert.ok(client.peakMb() > 0 && client.peakMb() < 160, `client peak ${client.peakMb()} MiB`);
  assert.ok(agentMb < 160, `agent peak ${agentMb.toFixed(0)} MiB`);
  rmSync(big);
});

/**
 * A hostile client's upload: the manifest as given, then (if the host asks) `content`, then the
 * end. What the host answered last: its error, or the stage.
 */
async function hostileStage(entries: unknown[], content: Uint8Array = new Uint8Array(0)): Promise<{ t: string; code?: string; message?: string }> {
  const client = await rawClient(agentSocket(state), join(box.home, '.config', 'herd', 'config.yml'));
  try {
    const manifest = new TextEncoder().encode(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
    client.send(1, { t: 'stage', manifestBytes: manifest.length });
    client.data(1, manifest);
    const want = await client.message(1);
    if (want === null || want.t !== 'stage-want') return (want ?? { t: 'hung up' }) as { t: string };
    if (content.length > 0) client.data(1, content);
    client.eof(1);
    return ((await client.message(1)) ?? { t: 'hung up' }) as { t: string };
  } finally {
    client.close();
  }
}

const countIn = (dir: string): number => (existsSync(dir) ? readdirSync(dir, { recursive: true }).length : 0);

Uploads('a hostile manifest is refused before anything is written: "..", absolute paths, symlinked parents, devices, hard links, newlines, twice the same name', async () => {
  // An agent must be up for the raw client to reach.
  assert.is((await herd(['run', '--', 'true'], opts)).code, 0);
  const target = join(box.home, 'escaped');
  const file = (path: string): Record<string, unknown> => ({ kind: 'file', path, mode: 0o644, size: 5 });
  const attacks: Array<[string, unknown[], RegExp]> = [
    ['a ".." path', [file(`../../../..${target}`)], /"\.\." component/],
    ['a path through ".." inside', [{ kind: 'dir', path: 'd', mode: 0o755 }, file(`d/../../../../../..${target}`)], /"\.\." component/],
    ['an absolute path', [file(target)], /absolute path/],
    ['a file under a symlink to the outside', [{ kind: 'symlink', path: 'out', target: box.home }, file('out/escaped')], /not inside a directory of the upload/],
    ['a directory under a symlink', [{ kind: 'symlink', path: 'out', target: box.home }, { kind: 'dir', path: 'out/escaped', mode: 0o755 }], /not inside a directory of the upload/],
    ['a device', [{ kind: 'device', path: 'null', mode: 0o666 }], /directories, files and symlinks only/],
    ['a hard link', [{ kind: 'link', path: 'passwd', target: '/etc/passwd' }], /directories, files and symlinks only/],
    ['a name with a newline', [file('a\nb')], /control character/],
    ['the same name twice', [file('x'), file('x')], /named twice/],
  ];
  const blobsBefore = countIn(join(state, 'blobs'));
  const stagesBefore = countIn(join(state, 'stages'));
  for (const [what, entries, why] of attacks) {
    const answer = await hostileStage(entries, new TextEncoder().encode('owned'));
    assert.is(answer.t, 'error', `${what}: ${JSON.stringify(answer)}`);
    assert.is(answer.code, 'INVALID_SPEC', `${what}: ${answer.message}`);
    assert.match(answer.message ?? '', why, what);
    assert.not.ok(existsSync(target), `${what}: nothing was written outside`);
  }
  assert.is(countIn(join(state, 'blobs')), blobsBefore, 'no content was stored');
  assert.is(countIn(join(state, 'stages')), stagesBefore, 'no stage was made');
});

Uploads('a client that opens uploads and never ends them holds at most MAX_STAGES_AT_ONCE; others upload once it is gone', async () => {
  const client = await rawClient(agentSocket(state), join(box.home, '.config', 'herd', 'config.yml'));
  const streams = Array.from({ length: MAX_STAGES_AT_ONCE + 8 }, (_, i) => 2 * i + 1);
  try {
    for (const stream of streams) client.send(stream, { t: 'stage', manifestBytes: 1024 });
    const answers = await Promise.all(streams.map((stream) => client.message(stream, 1500)));
    const limited = answers.filter((a) => a?.code === 'LIMIT');
    assert.is(limited.length, 8, JSON.stringify(answers.filter((a) => a !== null).slice(0, 3)));
    assert.match(String(limited[0]?.message), new RegExp(`staging ${MAX_STAGES_AT_ONCE} uploads already`));
  } finally {
    client.close();
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const after = await runJson(['--upload', 'run.sh', '--', 'true']);
  assert.is(after.error, null, 'the stages of a client that went away are released');
});

Uploads('content that does not match the hash it was sent with is refused, and not stored', async () => {
  const blobsBefore = countIn(join(state, 'blobs'));
  const answer = await hostileStage([{ kind: 'file', path: 'x', mode: 0o644, size: 5, sha256: 'ab'.repeat(32) }], new TextEncoder().encode('owned'));
  assert.is(answer.t, 'error', JSON.stringify(answer));
  assert.match(answer.message ?? '', /does not match the sha256 it was sent with/);
  assert.is(countIn(join(state, 'blobs')), blobsBefore);
});

Uploads('more content than the manifest holds, or less, is refused', async () => {
  const more = await hostileStage([{ kind: 'file', path: 'x', mode: 0o644, size: 2 }], new TextEncoder().encode('three'));
  assert.is(more.t, 'error', JSON.stringify(more));
  assert.match(more.message ?? '', /more content than the wanted files hold/);
  const less = await hostileStage([{ kind: 'file', path: 'x', mode: 0o644, size: 10 }], new TextEncoder().encode('abc'));
  assert.is(less.t, 'error', JSON.stringify(less));
  assert.match(less.message ?? '', /before every wanted file had arrived/);
});

Uploads('an upload over the limit, or larger than the host\'s free space, is refused before any content', async () => {
  const huge = await hostileStage([{ kind: 'file', path: 'huge', mode: 0o644, size: 65 * 1024 ** 3 }]);
  assert.is(huge.t, 'error', JSON.stringify(huge));
  assert.is(huge.code, 'INVALID_SPEC', JSON.stringify(huge));
  assert.match(huge.message ?? '', /over the limit/);
  // Under the limit, over what the disk has free: an agent whose state is on a 96 MiB tmpfs.
  const small = join(box.home, 'small-state');
  mkdirSync(small, { mode: 0o700 });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96m,mode=0700', 'herd-test-small', small]);
  try {
    const smallOpts = { ...opts, env: { HERD_STATE_DIR: small } };
    assert.is((await herd(['run', '--', 'true'], smallOpts)).code, 0);
    const client = await rawClient(agentSocket(small), join(box.home, '.config', 'herd', 'config.yml'));
    try {
      const manifest = new TextEncoder().encode(`${JSON.stringify({ kind: 'file', path: 'big', mode: 0o644, size: 200 * 1024 ** 2 })}\n`);
      client.send(1, { t: 'stage', manifestBytes: manifest.length });
      client.data(1, manifest);
      const answer = await client.message(1);
      assert.is(answer?.code, 'NO_SPACE', JSON.stringify(answer));
      assert.match(String(answer?.message), /needs \d+ MiB for it and has \d+ MiB free/);
    } finally {
      client.close();
    }
    assert.is(countIn(join(small, 'blobs')), 0, 'nothing was stored');
    await stopAgentsAndWait(small);
  } finally {
    execFileSync('umount', [small]);
  }
});

if (enabled) Uploads.run();
