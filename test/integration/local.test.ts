import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse, stringify } from 'yaml';
import { agentPids, gate, herd, localHome, sleep, stopAgents } from './harness.ts';

const Local = suite('local runs');
const enabled = gate('local.test.ts', { root: true, commands: ['unshare', 'nsenter'] });
const box = localHome('local');
const state = join(box.home, 'state');
const opts = { home: box.home, env: { HERD_STATE_DIR: state } };

const mounts: string[] = [];
const cleanups: Array<() => void> = [];
function mountTmpfs(dir: string, options: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'herd-test', dir]);
  mounts.push(dir);
}

Local.after(() => {
  stopAgents(state);
  for (const cleanup of cleanups) cleanup();
  for (const dir of mounts) {
    stopAgents(dir);
    execFileSync('umount', ['-l', dir]);
  }
  box.remove();
});

Local('first use creates an identity in the config, mode 0600, and says so', async () => {
  const r = await herd(['run', '--', 'true'], opts);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, 'created a new CA and an admin certificate');
  const path = join(box.home, '.config', 'herd', 'config.yml');
  assert.is(statSync(path).mode & 0o777, 0o600);
  const config = parse(readFileSync(path, 'utf8')) as { identity: { cert: string; ca: { secretKey: string } } };
  assert.match(config.identity.cert, /^herd1\./);
  assert.ok(config.identity.ca.secretKey.length > 40);
  const again = await herd(['run', '--', 'true'], opts);
  assert.not.match(again.stderr, 'created');
});

Local('stdout and stderr stay separate and byte-exact (binary safe)', async () => {
  const r = await herd(['run', '--', 'sh', '-c', "printf 'a\\0b\\377\\r\\n'; printf 'no newline'; printf 'err' >&2"], opts);
  assert.is(r.code, 0, r.stderr);
  assert.equal([...r.stdout], [...Buffer.from('a\0b\xff\r\nno newline', 'latin1')]);
  assert.is(r.stderr, 'err');
});

Local('a megabyte of output arrives complete', async () => {
  const r = await herd(['run', '--', 'head', '-c', '3000000', '/dev/zero'], opts);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.length, 3_000_000);
});

Local('exit status is the job\'s; a signal n gives 128+n; a missing command gives 127', async () => {
  assert.is((await herd(['run', '--', 'sh', '-c', 'exit 42'], opts)).code, 42);
  assert.is((await herd(['run', '--', 'sh', '-c', 'kill -TERM $$'], opts)).code, 143);
  assert.is((await herd(['run', '--', 'sh', '-c', 'kill -KILL $$'], opts)).code, 137);
  const missing = await herd(['run', '--', 'no-such-command-xyz'], opts);
  assert.is(missing.code, 127);
  assert.match(missing.stderr, /command not found: no-such-command-xyz .*\[COMMAND_NOT_FOUND\]/);
});

Local('stdin is forwarded and EOF reaches the job', async () => {
  const r = await herd(['run', '--', 'sh', '-c', 'cat; echo done'], { ...opts, stdin: 'line one\nline two\n' });
  assert.is(r.text, 'line one\nline two\ndone\n');
  const none = await herd(['run', '--no-stdin', '--', 'sh', '-c', 'cat; echo eof'], { ...opts, stdin: 'ignored' });
  assert.is(none.text, 'eof\n');
});

Local('--env and --workdir; the environment starts empty', async () => {
  const r = await herd(['run', '-e', 'GREETING=hi there', '--workdir', '/tmp', '--', 'sh', '-c', 'echo "$GREETING"; pwd; env | cut -d= -f1 | sort | tr "\\n" " "'], {
    ...opts,
    env: { ...opts.env, LEAK_ME: 'secret' },
  });
  assert.is(r.code, 0, r.stderr);
  const [greeting, pwd, names] = r.text.split('\n');
  assert.is(greeting, 'hi there');
  assert.is(pwd, '/tmp');
  assert.not.match(names!, 'LEAK_ME');
  assert.not.match(names!, 'HERD');
  assert.match(names!, 'PATH');
  const bad = await herd(['run', '-e', 'NOEQUALS', '--', 'true'], opts);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, '[INVALID_SPEC]');
});

Local('jobs run in new PID, mount, UTS and IPC namespaces', async () => {
  const r = await herd(['run', '--', 'sh', '-c', 'head -c 10 /proc/1/cmdline | tr "\\0" " "; echo; ps -e -o pid= | wc -l; hostname; hostname other 2>/dev/null || echo refused; readlink /proc/self/ns/ipc /proc/self/ns/mnt'], opts);
  assert.is(r.code, 0, r.stderr);
  const [pid1, count, name, refused, ipc, mnt] = r.text.trim().split('\n');
  assert.is(pid1, '/bin/sh -c', 'PID 1 is herd-init, not the command');
  assert.ok(Number(count) <= 4, `the job sees only its own processes (${count})`);
  assert.match(name!, /^[0-9a-f]{12}$/, 'the hostname is the job id');
  assert.is(refused, 'refused', 'a job cannot change its hostname (no CAP_SYS_ADMIN)');
  assert.is.not(ipc, readlinkSelf('ipc'));
  assert.is.not(mnt, readlinkSelf('mnt'));
  const host = await import('node:os').then((os) => os.hostname());
  assert.is.not(host, name, 'the host keeps its own hostname');
});

function readlinkSelf(ns: string): string {
  return readlinkSync(`/proc/self/ns/${ns}`);
}

Local('Ctrl-C sends SIGTERM to the job, then herd exits 130', async () => {
  const r = await herd(['run', '--', 'sh', '-c', 'trap "echo got-term; exit 5" TERM; echo ready; sleep 30 & wait'], {
    ...opts,
    onStart: (child) => {
      child.stdout!.once('data', () => child.kill('SIGINT'));
    },
  });
  assert.is(r.code, 130);
  assert.match(r.text, 'got-term');
});

Local('Ctrl-C escalates to SIGKILL after --grace for a job that ignores SIGTERM', async () => {
  const started = Date.now();
  const r = await herd(['run', '--grace', '1s', '--', 'sh', '-c', 'trap "" TERM; echo ready; sleep 30'], {
    ...opts,
    onStart: (child) => {
      child.stdout!.once('data', () => child.kill('SIGINT'));
    },
  });
  assert.is(r.code, 130);
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 10_000, `killed after the grace period, not after the command's 30 s (${elapsed} ms)`);
});

Local('a killed client does not kill the job: it finishes and its result is recorded', async () => {
  const r = await herd(['run', '--', 'sh', '-c', 'echo started; sleep 1; echo finished'], {
    ...opts,
    onStart: (child) => {
      child.stdout!.once('data', () => child.kill('SIGKILL'));
    },
  });
  assert.is(r.signal, 'SIGKILL');
  await sleep(2000);
  const list = await herd(['job', 'list', '--json'], opts);
  const jobs = list.json<{ hosts: Array<{ jobs: Array<{ id: string; argv: string[]; state: string; exitCode: number | null }> }> }>().hosts[0]!.jobs.filter((j) =>
    j.argv.join(' ').includes('echo finished'),
  );
  assert.is(jobs.length, 1);
  assert.is(jobs[0]!.state, 'COMPLETED', 'the job ran to the end');
  assert.is(jobs[0]!.exitCode, 0);
  const logs = await herd(['job', 'logs', jobs[0]!.id], opts);
  assert.is(logs.text, 'started\nfinished\n', 'its output was kept on the host');
});

Local('--json gives one document with the result', async () => {
  const r = await herd(['run', '--json', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'], opts);
  assert.is(r.code, 3);
  const doc = r.json<{ exitCode: number; hosts: Array<{ host: string; stdout: string; stderr: string; result: { exitCode: number; jobId: string } }> }>();
  assert.is(doc.exitCode, 3);
  assert.is(doc.hosts[0]!.host, 'local');
  assert.is(doc.hosts[0]!.stdout, 'out\n');
  assert.is(doc.hosts[0]!.stderr, 'err\n');
  assert.match(doc.hosts[0]!.result.jobId, /^[0-9a-f]{12}$/);
});

Local('herd job run is the same command', async () => {
  const r = await herd(['job', 'run', '--', 'echo', 'same'], opts);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.text, 'same\n');
});

Local('usage errors say what to do and exit 2', async () => {
  const none = await herd(['run'], opts);
  assert.is(none.code, 2);
  assert.match(none.stderr, /no command given.*\[INVALID_SPEC\]/);
  const unknown = await herd(['frobnicate'], opts);
  assert.is(unknown.code, 2);
  const help = await herd(['run', '--help'], opts);
  assert.is(help.code, 0);
  for (const flag of ['--hosts', '--config', '--json', '--env', '--workdir', '--grace', '--accept-new']) assert.match(help.text, flag);
});

Local('cert issue writes a usable identity; a viewer may not run jobs', async () => {
  const out = join(box.home, 'viewer.yml');
  const issued = await herd(['cert', 'issue', 'val', '--role', 'viewer', '--ttl', '1h', '--out', out, '--json'], opts);
  assert.is(issued.code, 0, issued.stderr);
  const info = issued.json<{ subject: string; role: string; notAfter: number; notBefore: number }>();
  assert.is(info.subject, 'val');
  assert.is(info.role, 'viewer');
  assert.ok(Math.abs(info.notAfter - info.notBefore - 3660) <= 1);
  assert.is(statSync(out).mode & 0o777, 0o600);
  const shown = await herd(['cert', 'show', '--json', '--config', out], opts);
  assert.is(shown.json<{ role: string; holdsCa: boolean }>().role, 'viewer');
  const denied = await herd(['run', '--config', out, '--', 'true'], opts);
  assert.is(denied.code, 255);
  assert.match(denied.stderr, /may not run jobs.*\[PERMISSION_DENIED\]/);
  const user = join(box.home, 'user.yml');
  await herd(['cert', 'issue', 'uma', '--role', 'user', '--out', user], opts);
  const allowed = await herd(['run', '--config', user, '--', 'echo', 'ok'], opts);
  assert.is(allowed.text, 'ok\n', allowed.stderr);
  const cannotIssue = await herd(['cert', 'issue', 'x', '--config', user], opts);
  assert.is(cannotIssue.code, 255);
  assert.match(cannotIssue.stderr, '[PERMISSION_DENIED]');
});

Local('certificate lifetimes: at most 90 days; a week before the end every command says so; the CA holder renews', async () => {
  const tooLong = await herd(['cert', 'issue', 'forever', '--ttl', '36500d'], opts);
  assert.is.not(tooLong.code, 0);
  assert.match(tooLong.stderr, /longer than the 90-day maximum.*\[INVALID_SPEC\]/);
  const short = join(box.home, 'short.yml');
  assert.is((await herd(['cert', 'issue', 'sam', '--ttl', '2d', '--out', short], opts)).code, 0);
  const warned = await herd(['run', '--config', short, '--', 'echo', 'still ok'], opts);
  assert.is(warned.text, 'still ok\n', warned.stderr);
  assert.match(warned.stderr, /your certificate \(sam, user\) expires in (1d23h|2d00h).*ask an admin for a new one: herd cert issue sam --role user/);
  const cannot = await herd(['cert', 'renew', '--config', short], opts);
  assert.is(cannot.code, 255);
  assert.match(cannot.stderr, '[PERMISSION_DENIED]');
  const before = (await herd(['cert', 'show', '--json'], opts)).json<{ serial: string; subject: string }>();
  const renewed = await herd(['cert', 'renew', '--ttl', '30d', '--json'], opts);
  assert.is(renewed.code, 0, renewed.stderr);
  const info = renewed.json<{ subject: string; serial: string; previousSerial: string; notAfter: string }>();
  assert.equal([info.subject, info.previousSerial], [before.subject, before.serial]);
  assert.is.not(info.serial, before.serial);
  assert.ok(Math.abs(Date.parse(info.notAfter) - Date.now() - 30 * 86_400_000) < 120_000, info.notAfter);
  const after = await herd(['run', '--', 'echo', 'renewed'], opts);
  assert.is(after.text, 'renewed\n', after.stderr);
  assert.not.match(after.stderr, 'your certificate');
});

Local('revocation: by subject and by serial, learned by the host from the admin (host sync), never undone by an older list', async () => {
  const rita = join(box.home, 'rita.yml');
  assert.is((await herd(['cert', 'issue', 'rita', '--out', rita], opts)).code, 0);
  assert.is((await herd(['run', '--config', rita, '--', 'true'], opts)).code, 0);
  // No pause: a lock made in the second the certificate was issued still covers it (issue times are whole seconds).
  const locked = await herd(['cert', 'revoke', 'rita', '--json'], opts);
  assert.is(locked.code, 0, locked.stderr);
  const v1 = locked.json<{ version: number; config: string }>();
  // The host learns of it from a config that carries the list: until then it cannot know.
  const synced = await herd(['host', 'sync', '--json'], opts);
  assert.is(synced.code, 0, synced.stderr);
  assert.is(synced.json<{ version: number }>().version, v1.version);
  const refused = await herd(['run', '--config', rita, '--', 'true'], opts);
  assert.is(refused.code, 255);
  assert.match(refused.stderr, /certificate "rita" is revoked.*issued before.*\[CERT_REVOKED\]/);
  const rita2 = join(box.home, 'rita2.yml');
  await herd(['cert', 'issue', 'rita', '--out', rita2], opts);
  const again = await herd(['run', '--config', rita2, '--', 'echo', 'new rita'], opts);
  assert.is(again.text, 'new rita\n', `a certificate issued after the lock is good: ${again.stderr}`);

  const olderAdmin = join(box.home, 'admin-v1.yml');
  writeFileSync(olderAdmin, readFileSync(v1.config), { mode: 0o600 });
  const issued = await herd(['cert', 'issue', 'sera', '--out', join(box.home, 'sera.yml'), '--json'], opts);
  const { serial } = issued.json<{ serial: string }>();
  assert.is((await herd(['cert', 'revoke', serial], opts)).code, 0);
  const twice = await herd(['cert', 'revoke', serial], opts);
  assert.is.not(twice.code, 0);
  assert.match(twice.stderr, /revoked already.*nothing changed/);
  assert.is((await herd(['host', 'sync'], opts)).code, 0);
  // The older list (version 1, without sera's serial) comes back through another admin config: kept out.
  assert.is((await herd(['run', '--config', olderAdmin, '--', 'true'], opts)).code, 0);
  const sera = await herd(['run', '--config', join(box.home, 'sera.yml'), '--', 'true'], opts);
  assert.is(sera.code, 255);
  assert.match(sera.stderr, new RegExp(`serial ${serial} is revoked.*\\[CERT_REVOKED\\]`));

  const garbage = join(box.home, 'admin-garbage.yml');
  const withGarbage = parse(readFileSync(v1.config, 'utf8')) as { identity: { revocations: string } };
  withGarbage.identity.revocations = 'herdrl1.not.a.list';
  writeFileSync(garbage, stringify(withGarbage), { mode: 0o600 });
  const bad = await herd(['run', '--config', garbage, '--', 'true'], opts);
  assert.is(bad.code, 255);
  assert.match(bad.stderr, /revocations is not a revocation list.*\[CONFIG\]/);
  const own = await herd(['cert', 'revoke', (await herd(['cert', 'show', '--json'], opts)).json<{ subject: string }>().subject], opts);
  assert.is.not(own.code, 0);
  assert.match(own.stderr, 'would revoke your own certificate');
});

Local('subjects are unique per CA: a second certificate is refused, --replace revokes the first; cert list shows both; an unknown serial is refused', async () => {
  const first = join(box.home, 'una.yml');
  const issued = await herd(['cert', 'issue', 'una', '--out', first, '--json'], opts);
  assert.is(issued.code, 0, issued.stderr);
  const oldSerial = issued.json<{ serial: string }>().serial;
  const configBefore = readFileSync(join(box.home, '.config', 'herd', 'config.yml'), 'utf8');
  const twice = await herd(['cert', 'issue', 'una', '--role', 'admin', '--out', join(box.home, 'una-admin.yml')], opts);
  assert.is(twice.code, 2);
  assert.match(twice.stderr, new RegExp(`"una" already holds a valid certificate of this CA \\(serial ${oldSerial}.*nothing issued \\[INVALID_SPEC\\] — --replace`));
  assert.not.ok(existsSync(join(box.home, 'una-admin.yml')), 'nothing written');
  const own = (await herd(['cert', 'show', '--json'], opts)).json<{ subject: string }>().subject;
  const asOwn = await herd(['cert', 'issue', own, '--role', 'user'], opts);
  assert.is(asOwn.code, 2);
  assert.match(asOwn.stderr, 'the subject of your own certificate');
  const unknown = await herd(['cert', 'revoke', '0123456789abcdef'], opts);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /serial 0123456789abcdef is not one this CA issued.*nothing changed/);
  assert.is(readFileSync(join(box.home, '.config', 'herd', 'config.yml'), 'utf8'), configBefore, 'the refusals changed nothing');

  assert.is((await herd(['run', '--config', first, '--', 'true'], opts)).code, 0);
  const replaced = await herd(['cert', 'issue', 'una', '--replace', '--out', join(box.home, 'una2.yml'), '--json'], opts);
  assert.is(replaced.code, 0, replaced.stderr);
  const { serial: newSerial, replaced: gone } = replaced.json<{ serial: string; replaced: string[] }>();
  assert.equal(gone, [oldSerial]);
  const stale = await herd(['run', '--config', first, '--', 'true'], opts);
  assert.is(stale.code, 0, 'the host has not heard yet: nothing synced, and a user config carries no list');
  assert.is((await herd(['host', 'sync'], opts)).code, 0);
  const refused = await herd(['run', '--config', first, '--', 'true'], opts);
  assert.is(refused.code, 255);
  assert.match(refused.stderr, `serial ${oldSerial} is revoked`);
  const fresh = await herd(['run', '--config', join(box.home, 'una2.yml'), '--', 'echo', 'una again'], opts);
  assert.is(fresh.text, 'una again\n', fresh.stderr);

  const listed = await herd(['cert', 'list', '--json'], opts);
  assert.is(listed.code, 0, listed.stderr);
  const certs = listed.json<{ certs: Array<{ serial: string; subject: string; status: string; role: string }> }>().certs.filter((c) => c.subject === 'una');
  assert.equal(certs.map((c) => [c.serial, c.status, c.role]), [[oldSerial, 'revoked', 'user'], [newSerial, 'valid', 'user']]);
  const table = await herd(['cert', 'list'], opts);
  assert.match(table.text, /^SERIAL +SUBJECT +ROLE +CA +EXPIRES +STATUS\n/);
  assert.match(table.text, new RegExp(`${oldSerial} +una +user .* revoked\\n`));
});

Local('a second CA: refused until the state\'s owner adds it (host trust); jobs belong to (CA, subject); removed again', async () => {
  const other = localHome('other-ca');
  const otherOpts = { home: other.home, env: { HERD_STATE_DIR: state } };
  try {
    const refused = await herd(['run', '--', 'true'], otherOpts);
    assert.is(refused.code, 255);
    assert.match(refused.stderr, /this host trusts CA [0-9a-f]{16}, but your identity comes from CA [0-9a-f]{16} \[CERT_UNTRUSTED\] — if you log in to it as the owner of its herd state, add your CA: herd host trust/);
    const caOf = async (o: typeof opts): Promise<string> => (await herd(['cert', 'show', '--json'], o)).json<{ ca: string }>().ca;
    const [ours, theirs] = [await caOf(opts), await caOf(otherOpts)];
    const userOfOther = join(other.home, 'alice.yml');
    assert.is((await herd(['cert', 'issue', 'alice', '--out', userOfOther], otherOpts)).code, 0);
    const notAdmin = await herd(['host', 'trust', '--config', userOfOther], otherOpts);
    assert.is(notAdmin.code, 255);
    assert.match(notAdmin.stderr, /only an admin config .* may add its CA.*\[PERMISSION_DENIED\]/);

    const added = await herd(['host', 'trust', '--json'], otherOpts);
    assert.is(added.code, 0, added.stderr);
    const after = added.json<{ hosts: Array<{ did: string; cas: Array<{ ca: string; yours: boolean; hostCert: { subject: string; serial: string } | null }> }> }>().hosts[0]!;
    assert.is(after.did, 'added');
    assert.equal(after.cas.map((c) => [c.ca, c.yours, c.hostCert?.subject]), [[ours, false, 'local'], [theirs, true, 'local']]);
    assert.is((await herd(['host', 'trust', '--json'], otherOpts)).json<{ hosts: Array<{ did: string }> }>().hosts[0]!.did, 'kept', 'asking again changes nothing');
    const both = await Promise.all([herd(['run', '--', 'echo', 'ours'], opts), herd(['run', '--', 'echo', 'theirs'], otherOpts)]);
    assert.equal(both.map((r) => r.text), ['ours\n', 'theirs\n'], both.map((r) => r.stderr).join(''));

    // alice of our CA starts a job; alice of the other CA may not stop it: a job is (CA, subject)'s.
    const ourAlice = join(box.home, 'alice.yml');
    assert.is((await herd(['cert', 'issue', 'alice', '--out', ourAlice], opts)).code, 0);
    const started = await herd(['run', '--config', ourAlice, '--detach', '--', 'sleep', '30'], opts);
    const id = /[0-9a-f]{12}/.exec(started.text)?.[0];
    assert.ok(id !== undefined, started.stderr);
    try {
      const stop = await herd(['job', 'stop', '--config', userOfOther, id!], otherOpts);
      assert.is(stop.code, 255);
      assert.match(stop.stderr, /was started by alice.*may stop only its own jobs.*\[PERMISSION_DENIED\]/);
      const status = await herd(['job', 'status', '--json', id!], opts);
      assert.match(status.text, /"state": "RUNNING"/);
    } finally {
      assert.is((await herd(['job', 'stop', '--config', ourAlice, id!], opts)).code, 0);
    }

    const enrolled = await herd(['host', 'list', '--json'], otherOpts);
    assert.is(enrolled.code, 0, enrolled.stderr);
    const hostCerts = enrolled.json<{ hosts: Array<{ dialled: string; subject: string; ca: string; status: string; serial: string }> }>().hosts;
    assert.equal(hostCerts.map((h) => [h.dialled, h.subject, h.ca, h.status]), [['local', 'local', theirs, 'valid']], 'the host certificate it signed at herd host trust');
    assert.is(hostCerts[0]!.serial, after.cas[1]!.hostCert?.serial, 'the one the host holds');
    const listed = await herd(['host', 'trust', '--list'], opts);
    assert.match(listed.text, /^HOST +CA +SINCE +HOST CERT +EXPIRES +REVOCATIONS +YOURS\n/);
    assert.match(listed.text, new RegExp(`local +${ours} .* yes\n`));
    const ownCa = await herd(['host', 'trust', '--remove', ours], opts);
    assert.is(ownCa.code, 255);
    assert.match(ownCa.stderr, 'is the one you are connected with; nothing changed');
    const removed = await herd(['host', 'trust', '--remove', theirs], opts);
    assert.is(removed.code, 0, removed.stderr);
    const gone = await herd(['run', '--', 'true'], otherOpts);
    assert.is(gone.code, 255);
    assert.match(gone.stderr, '[CERT_UNTRUSTED]');
    assert.is((await herd(['run', '--', 'echo', 'still ours'], opts)).text, 'still ours\n');
  } finally {
    other.remove();
  }
});

Local('host mode (--isolation none): the command changes the host itself, as the agent\'s user; timeout, stop and the job\'s end take everything it started; admin only, audited', async () => {
  const marker = join(box.home, 'host-mode-marker');
  const r = await herd(['run', '--isolation', 'none', '--', 'sh', '-c', `readlink /proc/self/ns/pid /proc/self/ns/mnt /proc/self/ns/net; id -u; pwd; echo "$HOME"; echo changed > ${marker}; cat`], { ...opts, stdin: 'from stdin\n' });
  assert.is(r.code, 0, r.stderr);
  const [pid, mnt, net, uid, pwd, home, echoed] = r.text.trim().split('\n');
  assert.equal([pid, mnt, net], [readlinkSelf('pid'), readlinkSelf('mnt'), readlinkSelf('net')], 'the host\'s own namespaces');
  assert.equal([uid, pwd, home, echoed], ['0', '/root', '/root', 'from stdin'], 'the agent\'s user (root here), in its home');
  assert.is(readFileSync(marker, 'utf8'), 'changed\n', 'the host itself was changed');
  assert.is((await herd(['run', '--isolation', 'none', '--', 'sh', '-c', 'exit 7'], opts)).code, 7);

  // sleeps of a length no one else uses: found by pgrep, whatever their parent.
  const tag = `${700000 + (process.pid % 100000)}`;
  const leftovers = (): string => execFileSync('sh', ['-c', `pgrep -f "^sleep ${tag}" || true`], { encoding: 'utf8' }).trim();
  // A background child would outlive its shell without a PID namespace: the job's end kills it.
  const timedOut = await herd(['run', '--isolation', 'none', '--timeout', '1s', '--grace', '200ms', '--', 'sh', '-c', `sleep ${tag} & sleep ${tag}`], opts);
  assert.is(timedOut.code, 124, timedOut.stderr);
  await sleep(300);
  assert.is(leftovers(), '', 'nothing of the job is left');
  const started = await herd(['run', '--isolation', 'none', '--detach', '--', 'sh', '-c', `echo up; (sleep ${tag}; true) & sleep ${tag}`], opts);
  const id = /[0-9a-f]{12}/.exec(started.text)?.[0];
  assert.ok(id !== undefined, started.stderr);
  await sleep(500);
  assert.ok(leftovers() !== '', 'the detached job runs on the host');
  const status = await herd(['job', 'status', '--json', id!], opts);
  assert.match(status.text, /"isolation": "none"/);
  assert.match(status.text, /"network": "host"/);
  assert.is((await herd(['job', 'stop', '--grace', '0', id!], opts)).code, 0);
  await sleep(300);
  assert.is(leftovers(), '', 'stop ended all of it');
  const logs = await herd(['job', 'logs', id!], opts);
  assert.is(logs.text, 'up\n');

  const limited = await herd(['run', '--isolation', 'none', '--max-memory', '32M', '--', 'sh', '-c', 'head -c 200000000 /dev/zero | tail > /dev/null'], opts);
  assert.is(limited.code, 137, 'the job\'s cgroup still limits it');
  const refused = await herd(['run', '--isolation', 'none', '--user', '1000', '--', 'true'], opts);
  assert.is(refused.code, 2);
  assert.match(refused.stderr, /--isolation none: --user is not possible: the command runs as the SSH login.*\[INVALID_SPEC\]/);
  const user = join(box.home, 'hm-user.yml');
  assert.is((await herd(['cert', 'issue', 'hmu', '--out', user], opts)).code, 0);
  const denied = await herd(['run', '--config', user, '--isolation', 'none', '--', 'touch', marker], opts);
  assert.is(denied.code, 255);
  assert.match(denied.stderr, /role "user" \(hmu\) may not run commands on the host itself \(--isolation none\).*\[PERMISSION_DENIED\]/);
  const audit = (await herd(['audit', '--json'], opts)).json<AuditJson>().hosts[0]!.lines;
  const line = audit.find((l) => l.action === 'run' && l.outcome === 'refused' && l.subject === 'hmu') as { detail?: { isolation?: string } } | undefined;
  assert.is(line?.detail?.isolation, 'none', 'the refusal is audited with what was asked');
});

interface AuditJson {
  hosts: Array<{ host: string; hostId: string; error: string | null; lines: Array<{ seq: number; action: string; outcome: string; code?: string; subject: string | null; role: string | null; target?: string; detail?: { argv?: string[] } }> }>;
}
interface VerifyJson {
  hosts: Array<{ ok: boolean; lines: number; files: Array<{ name: string }>; anchored: boolean; problems: Array<{ file: string; line: number; what: string }> }>;
}

Local('audit: each request is one chained line on the host, refusals too; any role reads it; verify finds an edited, removed or swapped line and passes on a rotated log', async () => {
  const auditState = join(box.home, 'audit-state');
  // A small rotation size, read by the agent this client starts, so that the log spans many files.
  const a = { home: box.home, env: { HERD_STATE_DIR: auditState, HERD_AUDIT_ROTATE_BYTES: '4096', HERD_AUDIT_KEEP_FILES: '64' } };
  try {
    assert.is((await herd(['run', '--', 'echo', 'audited'], a)).text, 'audited\n');
    const viewer = join(box.home, 'vic.yml');
    assert.is((await herd(['cert', 'issue', 'vic', '--role', 'viewer', '--out', viewer], a)).code, 0);
    assert.is((await herd(['run', '--config', viewer, '--', 'true'], a)).code, 255);
    const revoked = join(box.home, 'rev.yml');
    assert.is((await herd(['cert', 'issue', 'rev', '--out', revoked], a)).code, 0);
    await sleep(1100);
    assert.is((await herd(['cert', 'revoke', 'rev'], a)).code, 0);
    assert.is((await herd(['host', 'sync'], a)).code, 0);
    assert.match((await herd(['run', '--config', revoked, '--', 'true'], a)).stderr, '[CERT_REVOKED]');
    const started = await herd(['run', '--detach', '--', 'sleep', '30'], a);
    const id = /[0-9a-f]{12}/.exec(started.text)?.[0];
    assert.ok(id !== undefined, started.stderr);
    assert.is((await herd(['job', 'stop', id!], a)).code, 0);
    assert.is((await herd(['job', 'delete', id!], a)).code, 0);
    assert.is((await herd(['network', 'create', 'audnet', '--cidr', '10.231.7.0/24'], a)).code, 0);
    assert.is((await herd(['network', 'remove', 'audnet'], a)).code, 0);
    for (let i = 0; i < 12; i++) assert.is((await herd(['run', '--', 'true', `filler-${i}`], a)).code, 0);

    const shown = await herd(['audit', '--json'], a);
    assert.is(shown.code, 0, shown.stderr);
    const lines = shown.json<AuditJson>().hosts[0]!.lines;
    const admin = (await herd(['cert', 'show', '--json'], a)).json<{ subject: string }>().subject;
    const find = (action: string, outcome = 'ok') => lines.find((l) => l.action === action && l.outcome === outcome);
    assert.equal(lines.map((l) => l.seq), lines.map((_, i) => lines[0]!.seq + i), 'one unbroken sequence');
    assert.is(find('handshake')?.subject, admin);
    assert.ok(lines.some((l) => l.action === 'trust-add' && l.outcome === 'ok'), 'the first contact pinned the CA');
    assert.equal(lines.find((l) => l.action === 'run' && l.detail?.argv?.[1] === 'audited')?.detail?.argv, ['echo', 'audited']);
    const refused = find('run', 'refused');
    assert.equal([refused?.subject, refused?.role, refused?.code], ['vic', 'viewer', 'PERMISSION_DENIED']);
    const handshake = find('handshake', 'refused');
    assert.equal([handshake?.subject, handshake?.code], ['rev', 'CERT_REVOKED'], 'a refused handshake names the certificate it claimed');
    assert.ok(lines.some((l) => l.action === 'revocations' && l.outcome === 'ok'), 'the newer list the host took');
    assert.is(lines.find((l) => l.action === 'run' && l.detail?.argv?.[0] === 'sleep')?.target, id, 'a run names the job it started');
    assert.is(find('job-stop')?.target, id);
    assert.is(find('job-delete')?.target, id);
    assert.is(find('network-create')?.target, 'audnet');
    assert.is(find('network-remove')?.target, 'audnet');

    const table = await herd(['audit', '--config', viewer], a);
    assert.is(table.code, 0, `a viewer reads the log: ${table.stderr}`);
    assert.match(table.text, /^TIME \(UTC\) +HOST +SEQ +SUBJECT +ROLE +ACTION +TARGET +OUTCOME +FROM\n/);
    assert.match(table.text, / vic +viewer +run +.*refused PERMISSION_DENIED/);
    const vicOnly = (await herd(['audit', '--subject', 'vic', '--json'], a)).json<AuditJson>().hosts[0]!.lines;
    assert.ok(vicOnly.length >= 2 && vicOnly.every((l) => l.subject === 'vic'), JSON.stringify(vicOnly));
    const recent = (await herd(['audit', '--since', '1h', '--json'], a)).json<AuditJson>().hosts[0]!.lines;
    assert.ok(recent.length >= lines.length);
    assert.is((await herd(['audit', '--since', '2999-01-01T00:00:00Z', '--json'], a)).json<AuditJson>().hosts[0]!.lines.length, 0);

    const verify = async (): Promise<{ code: number | null; json: VerifyJson['hosts'][number] }> => {
      const r = await herd(['audit', 'verify', '--json'], a);
      return { code: r.code, json: r.json<VerifyJson>().hosts[0]! };
    };
    const good = await verify();
    assert.is(good.code, 0, JSON.stringify(good.json.problems));
    assert.ok(good.json.files.length >= 3, `the log was rotated (${good.json.files.map((f) => f.name).join(' ')})`);
    const dir = join(auditState, 'audit');
    // Only rotated files are changed: the agent appends to current.jsonl and would see that cut.
    const rotated = readdirSync(dir).filter((f) => /^\d+\.jsonl$/.test(f)).sort();
    const victim = join(dir, rotated[1]!);
    const original = readFileSync(victim, 'utf8');
    const rows = original.split('\n').filter((l) => l !== '');
    assert.ok(rows.length >= 3, `${victim} holds ${rows.length} lines`);
    const attacks: Array<[string, string[]]> = [
      ['edited', rows.map((r, i) => (i === 1 ? r.replace(/"outcome":"[a-z]+"/, '"outcome":"ok"').replace(/"time":"[^"]+"/, '"time":"2020-01-01T00:00:00.000Z"') : r))],
      ['removed', rows.filter((_, i) => i !== 1)],
      ['swapped', [rows[0]!, rows[2]!, rows[1]!, ...rows.slice(3)]],
    ];
    for (const [what, tampered] of attacks) {
      writeFileSync(victim, `${tampered.join('\n')}\n`);
      const broken = await verify();
      assert.is(broken.code, 1, `a ${what} line is found`);
      assert.not.ok(broken.json.ok);
      assert.ok(broken.json.problems.some((p) => p.file === rotated[1]), `${what}: ${JSON.stringify(broken.json.problems)}`);
      writeFileSync(victim, original);
    }
    const whole = await verify();
    assert.is(whole.code, 0, JSON.stringify(whole.json.problems));
    assert.ok(whole.json.anchored, 'checked against the anchor of the last good verify');

    // The oldest file removed by hand looks like a rotation, but the last rotation said where the log begins.
    const oldest = join(dir, readdirSync(dir).filter((f) => /^\d+\.jsonl$/.test(f)).sort()[0]!);
    const oldBytes = readFileSync(oldest);
    execFileSync('rm', [oldest]);
    const cut = await verify();
    assert.is(cut.code, 1, 'the oldest file is missed');
    assert.match(cut.json.problems.map((p) => p.what).join('\n'), 'oldest files removed');
    writeFileSync(oldest, oldBytes, { mode: 0o600 });
    assert.is((await verify()).code, 0);
  } finally {
    stopAgents(auditState);
  }
});

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

Local('backpressure: 200 MB into a stalled reader keeps client and agent memory bounded', async () => {
  const total = 200 * 1024 * 1024;
  let peakClient = 0;
  let peakAgent = 0;
  let received = 0;
  const r = await herd(['run', '--', 'head', '-c', String(total), '/dev/zero'], {
    ...opts,
    timeoutMs: 120_000,
    captureStdout: false,
    onStart: (child) => {
      // Read nothing for 1.5 s: the job keeps writing, so without end-to-end flow control
      // the agent or the client would buffer it all.
      const sample = setInterval(() => {
        try {
          peakClient = Math.max(peakClient, rssMiB(child.pid!));
          for (const pid of agentPids(state)) peakAgent = Math.max(peakAgent, rssMiB(pid));
        } catch {
          // the process may have just exited
        }
      }, 50);
      setTimeout(() => {
        child.stdout!.on('data', (chunk: Buffer) => (received += chunk.length));
      }, 1500);
      child.once('close', () => clearInterval(sample));
    },
  });
  assert.is(r.code, 0, r.stderr);
  assert.is(received, total, 'every byte arrived');
  assert.ok(peakClient > 0 && peakAgent > 0, 'memory was sampled');
  assert.ok(peakClient < 120, `client peak RSS ${peakClient.toFixed(0)} MiB`);
  assert.ok(peakAgent < 120, `agent peak RSS ${peakAgent.toFixed(0)} MiB`);
});

Local('an unwritable config is a CONFIG error that says what to do; a --config that is missing is one too, never a new identity', async () => {
  const blocker = join(box.home, 'a-file');
  writeFileSync(blocker, '');
  // The default path (only it is created on first use), under a directory that cannot be made.
  const r = await herd(['run', '--', 'true'], { ...opts, env: { ...opts.env, XDG_CONFIG_HOME: blocker } });
  assert.is(r.code, 255);
  assert.match(r.stderr, /cannot write the config .*a-file\/herd\/config.yml.*\[CONFIG\] — make its directory writable/);
  const missing = join(box.home, 'no-such.yml');
  const named = await herd(['run', '--config', missing, '--', 'true'], opts);
  assert.is(named.code, 255);
  assert.match(named.stderr, `${missing}: no such config file [CONFIG]`);
  assert.not.ok(existsSync(missing), 'a named config that is missing is not made: no new identity');
});

Local('a full state directory is a clear HELPER_START error that says so', async () => {
  const full = join(box.home, 'full');
  mountTmpfs(full, 'size=16k,mode=0700');
  const r = await herd(['run', '--', 'true'], { ...opts, env: { HERD_STATE_DIR: full } });
  assert.is(r.code, 255);
  assert.match(r.stderr, /local: cannot write the helper to .*No space left on device.*free space.*\[HELPER_START\]/);
  assert.equal(readdirSync(full), [], 'no partial helper is left in the cache');
});

Local('a noexec state directory still works: the helper is run by the runtime, never exec\'d', async () => {
  const noexec = join(box.home, 'noexec');
  mountTmpfs(noexec, 'size=8m,mode=0700,noexec');
  const r = await herd(['run', '--', 'echo', 'fine'], { ...opts, env: { HERD_STATE_DIR: noexec } });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.text, 'fine\n');
});

Local('rootless: an unprivileged user gets the same namespaces through a user namespace', async () => {
  const nobody = localHome('nobody');
  cleanups.push(() => {
    stopAgents(join(nobody.home, '.cache', 'herd'));
    nobody.remove();
  });
  const home = nobody.home;
  for (const path of [home, join(home, '.ssh'), join(home, '.config'), join(home, '.config', 'herd'), join(home, '.config', 'herd', 'config.yml')]) {
    chownSync(path, 65534, 65534);
  }
  const r = await herd(['run', '--', 'sh', '-c', 'head -c 7 /proc/1/cmdline; echo; hostname; id -u; touch /usr/x 2>/dev/null || echo ro'], { home, uid: 65534, gid: 65534 });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.text, /^\/bin\/sh\n[0-9a-f]{12}\n0\nro\n$/, 'init as PID 1, the job id as hostname, mapped to root inside, host read-only');
  assert.ok(existsSync(join(home, '.cache', 'herd')), 'state lives in the user\'s cache directory');
  const limited = await herd(['run', '--max-memory', '64M', '--', 'echo', 'ran'], { home, uid: 65534, gid: 65534 });
  assert.is(limited.code, 255);
  assert.is(limited.text, '', 'the job did not run without its limit');
  assert.match(limited.stderr, /--max-memory: no cgroup hierarchy is available to herd on this host .*\[LIMIT_UNSUPPORTED\]/);
});

if (enabled) Local.run();
