import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { environmentBlock, hostOwner, jobArgv, jobNetwork, KEPT_CAPABILITIES, launchArgv, launchScript, planJob, type PlanContext } from '../../../../src/remote/jobs/jobPlan.ts';
import { INIT_NAME, USERNS_NAME } from '../../../../src/remote/sandbox/init.ts';
import { parseMountinfo } from '../../../../src/remote/system/mountinfo.ts';
import { codeOf } from '../../helpers/codeOf.ts';
import { MOUNTINFO, ROOT } from '../../helpers/hostFixture.ts';

const context: PlanContext = {
  jobId: 'abc123def456',
  isRoot: true,
  jobDir: '/var/lib/herd/jobs/abc123def456',
  stateDir: '/var/lib/herd',
  rootEntries: ROOT,
  mounts: parseMountinfo(MOUNTINFO),
  etcFiles: new Set(['hostname', 'hosts', 'resolv.conf']),
};

test('job plan: environment starts empty plus documented defaults; names and paths validated', () => {
  const plan = planJob({ t: 'run', argv: ['echo', 'hi'], env: { A: '1' } }, context);
  assert.equal(plan.env, { PATH: plan.env.PATH, HOME: '/root', HOSTNAME: 'abc123def456', A: '1' });
  assert.is(plan.workdir, '/work');
  assert.is(plan.hostname, 'abc123def456');
  assert.is(codeOf(() => planJob({ t: 'run', argv: ['x'], env: { 'BAD-NAME': '1' } }, context)), 'INVALID_SPEC');
  assert.is(codeOf(() => planJob({ t: 'run', argv: ['x'], env: {}, workdir: 'rel' }, context)), 'INVALID_SPEC');
  assert.is(codeOf(() => planJob({ t: 'run', argv: ['x'], env: {}, user: { uid: 1000, gid: 1000 } }, { ...context, isRoot: false })), 'INVALID_SPEC');
});

test('job argv: namespaces, init as PID 1, then as host uid base into a user namespace, setpriv before the command', () => {
  const plan = planJob({ t: 'run', argv: ['echo', 'hi'], env: {}, user: { uid: 1000, gid: 100 } }, { ...context, ids: { base: 5000000, count: 65536 } });
  assert.equal(plan.users, { kind: 'mapped', ids: { base: 5000000, count: 65536 } });
  const tools = { unshare: '/usr/bin/unshare', setpriv: '/usr/bin/setpriv' };
  const args = jobArgv(plan, '/j', '/usr/bin/echo', tools, false);
  for (const flag of ['--pid', '--mount', '--uts', '--ipc', '--fork', '--kill-child=SIGKILL']) assert.ok(args.includes(flag), flag);
  assert.not.ok(args.includes('--map-root-user'), 'job root is never the host user that runs the agent');
  // The init's arguments: job dir, workdir, network, users.
  const init = args.indexOf(INIT_NAME);
  assert.equal(args.slice(init + 1, init + 5), ['/j', '/work', 'agent', 'map']);
  const [first, second] = args.flatMap((a, i) => (a === '/usr/bin/setpriv' ? [i] : []));
  assert.equal(args.slice(first!, first! + 7), ['/usr/bin/setpriv', '--reuid=5000000', '--regid=5000000', '--clear-groups', '--inh-caps=+sys_admin', '--ambient-caps=+sys_admin', '--']);
  assert.equal(args.slice(first! + 7, first! + 11), ['/usr/bin/unshare', '--user', '--cgroup', '--'], 'not yet in its cgroup: the cgroup namespace comes with the user namespace');
  assert.ok(args.indexOf(USERNS_NAME) < second!);
  assert.ok(args.includes('--no-new-privs'));
  assert.ok(args.includes(`--bounding-set=-all,${KEPT_CAPABILITIES.map((c) => `+${c}`).join(',')}`));
  assert.not.match(args.slice(second!).join(' '), /sys_admin|sys_module|net_admin|net_raw|mknod|sys_ptrace/);
  assert.ok(args.includes('--reuid=1000') && args.includes('--regid=100'), '--user is an id inside the job');
  assert.equal(args.slice(-3), ['herd-env', '/usr/bin/echo', 'hi']);
  const asRoot = jobArgv({ ...plan, user: null }, '/j', '/usr/bin/echo', tools, false);
  assert.ok(asRoot.includes('--reuid=0') && asRoot.includes('--regid=0'), 'root of the job namespace');
  assert.equal(hostOwner({ ...plan, user: null }), { uid: 5000000, gid: 5000000 });
  assert.equal(hostOwner(plan), { uid: 5001000, gid: 5000100 });
  const rootless = jobArgv({ ...plan, users: { kind: 'rootless' }, user: null }, '/j', '/usr/bin/echo', { unshare: 'u', setpriv: 's' }, false);
  assert.ok(rootless.includes('--map-root-user'));
  assert.is(rootless[rootless.indexOf(INIT_NAME) + 4], 'self');
  assert.is(hostOwner({ ...plan, users: { kind: 'rootless' } }), null, 'a rootless agent\'s own user owns /work');
  const joined = jobArgv(plan, '/j', '/usr/bin/echo', { unshare: 'u', setpriv: 's' }, true);
  assert.ok(joined.indexOf('--cgroup') < joined.indexOf('--fork'), 'already in its cgroup: the first unshare makes the cgroup namespace');
  assert.equal(joined.filter((a) => a === '--cgroup').length, 1, 'and only it');
  assert.is(codeOf(() => planJob({ t: 'run', argv: ['x'], env: {}, user: { uid: 65536, gid: 0 } }, context)), 'INVALID_SPEC');
});

test('job argv: under seccomp the command is exec\'d by the loader linked into the job\'s root; --require-seccomp refuses a host without it', () => {
  const tools = { unshare: 'u', setpriv: 's' };
  const filtered = planJob({ t: 'run', argv: ['echo', 'hi'], env: {} }, { ...context, seccomp: { path: '/var/lib/herd/herd-seccomp-x' } });
  assert.equal(filtered.seccomp, { loaded: true });
  assert.equal(jobArgv(filtered, '/j', '/usr/bin/echo', tools, true).slice(-4), ['herd-env', '/.herd-seccomp', '/usr/bin/echo', 'hi']);
  assert.ok(filtered.sandbox!.skeleton.some((e) => e.kind === 'link' && e.path === 'root/.herd-seccomp' && e.from === '/var/lib/herd/herd-seccomp-x'));
  const without = planJob({ t: 'run', argv: ['echo'], env: {} }, { ...context, seccomp: { problem: 'no seccomp for arm64 hosts yet' } });
  assert.equal(without.seccomp, { loaded: false, problem: 'no seccomp for arm64 hosts yet' });
  assert.not.ok(jobArgv(without, '/j', '/usr/bin/echo', tools, true).includes('/.herd-seccomp'));
  assert.is(codeOf(() => planJob({ t: 'run', argv: ['echo'], env: {}, requireSeccomp: true }, { ...context, seccomp: { problem: 'x' } })), 'ISOLATION_UNSUPPORTED');
});

test('launch script: cd, a fixed PATH, exec; the environment goes to the command\'s last step only', () => {
  const script = launchScript("/j d", ['/usr/bin/unshare', '--pid', "a'b"]);
  assert.is(script, "cd '/j d' || exit 125\nPATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH\nexec '/usr/bin/unshare' '--pid' 'a'\\''b'\n");
  assert.is(environmentBlock({ A: '1', ODD: "it's a\nline\n", E: '' }), "A=1\nODD=it's a\n+line\n+\nE=\n.\n");
  assert.is(codeOf(() => environmentBlock({ 'BAD NAME': '1' })), 'INVALID_SPEC');
  assert.is(codeOf(() => planJob({ t: 'run', argv: ['x'], env: { __herd_l: '/x' } }, context)), 'INVALID_SPEC', 'the env step\'s own names are reserved');
  const args = jobArgv(planJob({ t: 'run', argv: ['echo', 'hi'], env: {} }, context), '/j', '/usr/bin/echo', { unshare: 'u', setpriv: 's' }, true);
  const last = args.lastIndexOf('s');
  assert.equal(args.slice(args.indexOf('--', last), args.indexOf('--', last) + 3), ['--', '/bin/sh', '-c'], 'after the last setpriv');
});

test.run();

test('host mode (--isolation none): no namespaces, no sandbox, the agent\'s user and home; the init alone, no unshare or setpriv', () => {
  const hostUser = { name: 'deploy', home: '/home/deploy', hostname: 'web1' };
  const plan = planJob({ t: 'run', argv: ['systemctl', 'restart', 'nginx'], env: { A: '1' }, isolation: 'none' }, { ...context, hostUser });
  assert.equal([plan.isolation, plan.namespaces, plan.sandbox, plan.users, plan.network, plan.hostname, plan.workdir], ['none', [], null, { kind: 'host' }, 'host', 'web1', '/home/deploy']);
  assert.equal(plan.env, { PATH: plan.env.PATH, HOME: '/home/deploy', USER: 'deploy', LOGNAME: 'deploy', A: '1' });
  assert.is(plan.seccomp.loaded, false);
  assert.is(hostOwner(plan), null);
  assert.is(jobNetwork({ t: 'run', argv: ['x'], env: {}, isolation: 'none' }, true), 'host', 'never the default bridge');
  const argv = launchArgv(plan, '/j', '/usr/bin/systemctl', { unshare: 'u', setpriv: 's' }, false);
  assert.equal(argv.slice(0, 2), ['/bin/sh', '-c']);
  assert.equal(argv.slice(3, 8), [INIT_NAME, '/j', '/home/deploy', 'host', 'host']);
  assert.equal(argv.slice(-3), ['/usr/bin/systemctl', 'restart', 'nginx']);
  assert.not.ok(argv.includes('u') || argv.includes('s'), 'no unshare, no setpriv');
  const sandboxed = planJob({ t: 'run', argv: ['x'], env: {} }, context);
  assert.is(launchArgv(sandboxed, '/j', '/x', { unshare: 'u', setpriv: 's' }, false)[0], 'u');
  for (const extra of [{ user: { uid: 1, gid: 1 } }, { name: 'n1' }, { ip: '10.0.0.2' }, { maxBandwidthBps: 1000 }, { requireSeccomp: true }, { network: 'bridge' }]) {
    assert.is(codeOf(() => planJob({ t: 'run', argv: ['x'], env: {}, isolation: 'none', ...extra }, { ...context, hostUser })), 'INVALID_SPEC', JSON.stringify(extra));
  }
});
