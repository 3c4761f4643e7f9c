import { readdirSync, readFileSync, mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { stringify } from 'yaml';
import { up, type Testbed, type TestHost } from '../../fixtures/testbed/testbed.ts';
import { execFileSync } from 'node:child_process';
import { gate, HERD, herd, loud, watchPeak } from './harness.ts';

/* A 30-host run in each output mode, unreachable hosts, and -H @failed. */
const Fanout = suite('fan-out over 30 hosts: output modes, unreachable hosts, @failed');
const enabled = gate('fanout.test.ts', { root: true, commands: ['ip', 'unshare', 'nsenter', 'ssh-keygen', '/usr/sbin/sshd'] });
const HOSTS = 30;
let bed: Testbed;
let home: string;
const host = (i: number): TestHost => bed.hosts[i - 1]!;
const all = `h[1-${HOSTS}]`;
const run = (args: string[]) => herd(args, { home, timeoutMs: 120_000 });

Fanout.before(loud(async () => {
  bed = await up(HOSTS);
  home = bed.home;
  mkdirSync(join(home, '.config', 'herd'), { recursive: true });
  writeFileSync(join(home, '.config', 'herd', 'config.yml'), stringify({ hosts: Object.fromEntries(bed.hosts.map((h) => [h.name, { address: h.address, user: 'root' }])) }));
  // First contact everywhere (helper shipped, agents started), so the tests below see warm hosts.
  const warm = await run(['run', '-H', all, '--', 'true']);
  if (warm.code !== 0) throw new Error(`warm-up failed: ${warm.stderr}`);
}));

Fanout.after(() => bed?.down());

/** A job that says "first" on h1 and "other" everywhere else (it sees the host's own address). */
const firstOrOther = (): string[] => ['--network', 'host', '--', 'sh', '-c', `ip -4 -o addr show | grep -q ' ${host(1).address}/' && echo first || echo other`];

Fanout('live: every line prefixed with its host; a summary line', async () => {
  const r = await run(['run', '-H', all, '--', 'echo', 'same']);
  assert.is(r.code, 0, r.stderr);
  const lines = r.text.trim().split('\n').sort();
  assert.is(lines.length, HOSTS);
  assert.equal(lines, bed.hosts.map((h) => `${h.name}: same`).sort());
  assert.match(r.stderr, `herd: ${HOSTS} hosts: ${HOSTS} ok`);
});

Fanout('--gather: each distinct output once, with the hosts that produced it', async () => {
  const r = await run(['run', '-b', '-H', all, ...firstOrOther()]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.text.split('\n').filter((l) => l === 'other').length, 1, 'the common output is printed once');
  assert.is(r.text.split('\n').filter((l) => l === 'first').length, 1);
  assert.match(r.text, /^h1 \(1\)\n-+\nfirst$/m);
  assert.match(r.text, new RegExp(`^h\\[2-${HOSTS}\\] \\(${HOSTS - 1}\\)\\n-+\\nother$`, 'm'), 'the hosts folded into a nodeset');
});

/** A job that exits 3 on h1, 4 on h2, 0 elsewhere, printing "first", "second" or "other". */
const byHost = (): string[] => ['--network', 'host', '--', 'sh', '-c', `a=$(ip -4 -o addr show); case "$a" in *' ${host(1).address}/'*) echo first; exit 3;; *' ${host(2).address}/'*) echo second; exit 4;; esac; echo other`];

Fanout('-b gathers stdout even where stderr differs; stderr is shown per host, labelled', async () => {
  const r = await run(['run', '-b', '-H', all, '--network', 'host', '--', 'sh', '-c', `echo same; ip -4 -o addr show | grep -q ' ${host(1).address}/' && echo warning >&2; true`]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.text, new RegExp(`^h\\[1-${HOSTS}\\] \\(${HOSTS}\\)\\n-+\\nsame\\n$`, 'm'), 'one group: the warning does not split it');
  assert.match(r.stderr, /^h1: warning$/m);
});

Fanout('-L: all of one host, then the next, in name order; -N: no labels; -q: only the hosts that failed', async () => {
  const r = await run(['run', '-L', '-H', 'h[1-12]', '--', 'sh', '-c', 'echo a; echo b']);
  assert.is(r.code, 0, r.stderr);
  const names = Array.from({ length: 12 }, (_, i) => `h${i + 1}`);
  assert.equal(r.text.trim().split('\n'), names.flatMap((n) => [`${n}: a`, `${n}: b`]), 'h2 before h10');
  const bare = await run(['run', '-N', '-H', 'h[1-3]', '--', 'echo', 'same']);
  assert.equal(bare.text.trim().split('\n'), ['same', 'same', 'same']);
  const quiet = await run(['run', '-q', '-H', all, ...byHost()]);
  assert.is(quiet.code, 4);
  assert.equal(quiet.text.trim().split('\n').sort(), ['h1: first', 'h2: second']);
  assert.match(quiet.stderr, `herd: ${HOSTS} hosts: ${HOSTS - 2} ok, 2 failed (exit 3: h1; exit 4: h2)`);
  const quietGather = await run(['run', '-q', '-b', '-H', all, ...byHost()]);
  assert.not.match(quietGather.text, 'other');
  assert.match(quietGather.text, /^h1 \(1\) exit 3\n-+\nfirst$/m);
  const mixed = await run(['run', '-q', '--json', '-H', 'h1', '--', 'true']);
  assert.is(mixed.code, 2);
  assert.match(mixed.stderr, '-q does not go with --json');
});

Fanout('--diff: each output as a unified diff against the most common one', async () => {
  const r = await run(['run', '--diff', '-H', all, '--network', 'host', '--', 'sh', '-c', `echo line one; ip -4 -o addr show | grep -q ' ${host(1).address}/' && echo changed || echo line two; echo line three`]);
  assert.is(r.code, 0, r.stderr);
  const common = `h[2-${HOSTS}] (${HOSTS - 1})`;
  assert.is(r.text, `herd: the most common output is ${common}'s\n--- ${common}\n+++ h1 (1)\n@@ -1,3 +1,3 @@\n line one\n-line two\n+changed\n line three\n`);
  const same = await run(['run', '--diff', '-H', 'h[1-3]', '--', 'echo', 'x']);
  assert.is(same.text, "herd: the most common output is h[1-3] (3)'s; every host printed it\n");
});

Fanout('--color always: host names painted, each host its own colour every time; never by default in a pipe', async () => {
  const r = await run(['run', '--color', 'always', '-H', 'h[1-12]', '--', 'sh', '-c', 'echo one; echo two >&2']);
  assert.is(r.code, 0, r.stderr);
  const painted = /^\x1b\[([\d;]+)m(h\d+):\x1b\[0m one$/;
  const lines = r.text.trim().split('\n');
  assert.is(lines.length, 12);
  const colours = new Map(lines.map((l) => painted.exec(l)!).map((m) => [m[2]!, m[1]!]));
  assert.is(colours.size, 12);
  assert.is(new Set(colours.values()).size, 12, 'twelve hosts, twelve colours');
  for (const [name, colour] of colours) assert.match(r.stderr, `\x1b[${colour}m${name}:\x1b[0m two`, 'stderr lines too, in the same colour');
  const gathered = await run(['run', '-b', '--color', 'always', '-H', 'h[1-3]', '--', 'true']);
  assert.match(gathered.text, '\x1b[36mh[1-3] (3)\x1b[0m');
  const plain = await run(['run', '-H', 'h[1-3]', '--', 'echo', 'one']);
  assert.not.match(plain.text + plain.stderr, '\x1b[', 'no escape codes in a pipe');
});

Fanout('on a terminal, host output cannot drive it: control characters escaped in prefixed and gathered output', async () => {
  // script(1) gives herd a terminal and copies the session to its stdout (the typescript goes nowhere).
  const job = `printf 'a\\033]0;pwned\\007b\\033[2J\\302\\233c\\n'`;
  const onTerminal = (flags: string): string =>
    execFileSync('script', ['-qec', `${process.execPath} ${HERD} run --color never ${flags} -H h1,h2 -- sh -c "${job}"`, '/dev/null'], {
      env: { HOME: home, PATH: process.env.PATH ?? '/usr/bin:/bin' },
      encoding: 'latin1',
      timeout: 60_000,
    });
  const live = onTerminal('');
  assert.match(live, 'h1: a\\e]0;pwned\\ab\\e[2J\\x9bc', live);
  assert.match(live, 'h2: a\\e]0;pwned\\ab\\e[2J\\x9bc');
  assert.not.match(live, /\x1b|\x9b/, 'no raw escape, C1 or CSI byte reached the terminal');
  const gathered = onTerminal('-b');
  assert.match(gathered, 'a\\e]0;pwned\\ab\\e[2J\\x9bc');
  assert.not.match(gathered, /\x1b\]0;|\x1b\[2J|\xc2\x9b/, 'the host\'s sequences escaped (herd\'s own progress line may use \\e[K)');
  // In a pipe the bytes go through as sent: a program reading herd's output gets them.
  const piped = await run(['run', '-H', 'h1,h2', '--', 'sh', '-c', job]);
  assert.match(piped.stdout.toString('latin1'), 'h1: a\x1b]0;pwned\x07b\x1b[2J\xc2\x9bc\n');
});

Fanout('an 80 MB line without a newline from two hosts streams through in bounded memory', async () => {
  let bytes = 0;
  let peak: { peakMb(): number } | undefined;
  const started = Date.now();
  const r = await herd(['run', '-H', 'h1,h2', '--', 'head', '-c', '80M', '/dev/zero'], {
    home,
    timeoutMs: 180_000,
    captureStdout: false,
    onStart: (child) => {
      peak = watchPeak(child);
      child.stdout!.on('data', (chunk: Buffer) => (bytes += chunk.length));
    },
  });
  assert.is(r.code, 0, r.stderr);
  assert.ok(bytes >= 2 * 80 * 1024 * 1024, `${bytes} bytes out`);
  assert.ok((peak?.peakMb() ?? 0) < 250, `client peak RSS ${peak?.peakMb()} MB`);
  console.log(`  (2 x 80 MB unterminated, prefixed: ${Date.now() - started} ms, client peak ${peak?.peakMb()} MB)`);
});

Fanout('--output-dir: a stdout and a stderr file per host', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'herd-outdir-'));
  try {
    const r = await run(['run', '--output-dir', dir, '-H', all, '--', 'sh', '-c', 'echo out; echo err >&2']);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.text, '', 'nothing on stdout');
    assert.is(readdirSync(dir).length, HOSTS * 2);
    for (const h of bed.hosts) {
      assert.is(readFileSync(join(dir, `${h.name}.stdout`), 'utf8'), 'out\n');
      assert.is(readFileSync(join(dir, `${h.name}.stderr`), 'utf8'), 'err\n');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Fanout('--ndjson: started, output, exit per host, then a summary; --json: one document', async () => {
  const r = await run(['run', '--ndjson', '-H', all, '--', 'echo', 'evt']);
  assert.is(r.code, 0, r.stderr);
  const events = r.text.trim().split('\n').map((l) => JSON.parse(l) as { event: string; host?: string; data?: string; exitCode?: number });
  for (const kind of ['started', 'output', 'exit']) assert.is(events.filter((e) => e.event === kind).length, HOSTS, kind);
  assert.ok(events.filter((e) => e.event === 'output').every((e) => e.data === 'evt\n'));
  assert.is(events.at(-1)!.event, 'summary');
  const doc = await run(['run', '--json', '-H', all, '--', 'echo', 'doc']);
  const parsed = doc.json<{ exitCode: number; hosts: Array<{ host: string; stdout: string }> }>();
  assert.is(parsed.hosts.length, HOSTS);
  assert.ok(parsed.hosts.every((h) => h.stdout === 'doc\n'));
  const both = await run(['run', '--json', '--ndjson', '-H', 'h1', '--', 'true']);
  assert.is(both.code, 2, 'one output mode at a time');
});

Fanout('Ctrl-C with --gather: what was gathered is printed, the jobs are stopped, exit 130', async () => {
  let sent = false;
  const r = await herd(['run', '-b', '-H', `h[1-${HOSTS - 1}]`, '--', 'sh', '-c', 'echo partial; trap "echo stopping; exit 7" TERM; sleep 30 & wait'], {
    home,
    timeoutMs: 120_000,
    onStart: (child) => {
      // Interrupt once the jobs are running (their first output is gathered, so nothing shows yet).
      setTimeout(() => {
        sent = true;
        child.kill('SIGINT');
      }, 4000);
    },
  });
  assert.ok(sent);
  assert.is(r.code, 130, r.stderr);
  assert.match(r.text, /^partial\nstopping$/m, 'the gathered output, with what the jobs said on SIGTERM');
  assert.match(r.stderr, /interrupted; sent SIGTERM/);
});

Fanout('an unreachable host: exit 254, named in the summary; -H @failed reruns exactly the failed hosts', async () => {
  process.kill(host(HOSTS).sshdPid, 'SIGTERM');
  const started = Date.now();
  const r = await run(['run', '--retries', '1', '-H', `h[${HOSTS - 2}-${HOSTS}]`, '--', 'true']);
  assert.is(r.code, 254, r.stderr);
  assert.match(r.stderr, `3 hosts: 2 ok, 1 unreachable (h${HOSTS}); rerun those with -H @failed`);
  assert.ok(Date.now() - started >= 500, '--retries waited before trying again');
  const failed = await run(['hosts', '-H', '@failed', '--json']);
  assert.equal(failed.json<{ hosts: Array<{ name: string }> }>().hosts.map((h) => h.name), [`h${HOSTS}`]);
  const mixed = await run(['run', '-H', `h1,h${HOSTS}`, '--', 'sh', '-c', 'exit 3']);
  assert.is(mixed.code, 3, 'a job\'s own failure outranks an unreachable host');
  // @failed is now h1 (exit 3) and the unreachable one.
  const rerun = await run(['run', '-H', '@failed', '--', 'true']);
  assert.match(rerun.stderr, `2 hosts: 1 ok, 1 unreachable (h${HOSTS})`);
  assert.is(rerun.code, 254, 'h1 succeeds now; the other is still away');
});

if (enabled) Fanout.run();
