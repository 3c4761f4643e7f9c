import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { environmentBlock, hostOwner, jobArgv, KEPT_CAPABILITIES, launchScript, planJob, type PlanContext } from '../../src/remote/jobs/jobPlan.ts';
import { idMapLine, JOB_IDS, rangeConflicts } from '../../src/remote/sandbox/idmap.ts';
import { ENV_SCRIPT, INIT_NAME, USERNS_NAME } from '../../src/remote/sandbox/init.ts';
import { spawnSync } from 'node:child_process';
import { parseMountinfo } from '../../src/remote/system/mountinfo.ts';
import { planSandbox, renderFstab, type RootEntry } from '../../src/remote/sandbox/sandboxPlan.ts';
import { codeOf } from './codeOf.ts';

const MOUNTINFO = [
  '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '23 22 0:21 / /proc rw,nosuid - proc proc rw',
  '24 22 0:22 / /sys rw - sysfs sysfs rw',
  '25 24 0:23 / /sys/fs/cgroup rw - tmpfs tmpfs rw',
  '26 22 254:16 / /home rw shared:5 - ext4 /dev/vdb rw',
  '27 26 254:32 / /home/data\\040set rw master:7 - xfs /dev/vdc rw',
  '28 22 0:25 / /run rw - tmpfs tmpfs rw',
  '29 22 254:48 / /var/lib/herd rw - ext4 /dev/vdd rw',
  '30 22 254:0 /srv /opt/bound rw - ext4 /dev/vda rw',
].join('\n');

const ROOT: RootEntry[] = [
  { name: 'bin', kind: 'symlink', target: 'usr/bin' },
  { name: 'usr', kind: 'dir' },
  { name: 'etc', kind: 'dir' },
  { name: 'home', kind: 'dir' },
  { name: 'var', kind: 'dir' },
  { name: 'opt', kind: 'dir' },
  { name: 'proc', kind: 'dir' },
  { name: 'sys', kind: 'dir' },
  { name: 'tmp', kind: 'dir' },
  { name: 'run', kind: 'dir' },
  { name: 'work', kind: 'dir' },
  { name: 'vmlinuz', kind: 'file' },
];

const context: PlanContext = {
  jobId: 'abc123def456',
  isRoot: true,
  jobDir: '/var/lib/herd/jobs/abc123def456',
  stateDir: '/var/lib/herd',
  rootEntries: ROOT,
  mounts: parseMountinfo(MOUNTINFO),
  etcFiles: new Set(['hostname', 'hosts', 'resolv.conf']),
};

test('mountinfo: fields after the separator, octal escapes undone', () => {
  const mounts = parseMountinfo(MOUNTINFO);
  assert.is(mounts.length, 9);
  assert.equal(mounts[5], { mountPoint: '/home/data set', device: '254:32', fsType: 'xfs', source: '/dev/vdc', superOptions: ['rw'] });
});

test('sandbox: host root read-only per top-level entry, data submounts added back, pseudo filesystems not', () => {
  const plan = planSandbox(ROOT, parseMountinfo(MOUNTINFO), { jobDir: '/j', hostname: 'h', stateDir: '/var/lib/herd', tmpBytes: 1024, recursive: false, etcFiles: new Set(['hostname']), etcHosts: '/n/hosts' });
  const byTarget = new Map(plan.fstab.map((e) => [e.target, e]));
  assert.is(plan.fstab[0]!.target, '/j/root', 'the root is made a mount point first, for pivot_root');
  for (const dir of ['usr', 'etc', 'home', 'var', 'opt']) assert.match(byTarget.get(`/j/root/${dir}`)!.options, /^bind,ro,nosuid,nodev$/);
  assert.ok(byTarget.has('/j/root/home/data set'), 'an xfs mount under /home is visible');
  assert.not.ok(byTarget.has('/j/root/sys/fs/cgroup'), 'the host cgroup tree is not');
  assert.not.ok([...byTarget.keys()].some((t) => t.startsWith('/j/root/var/lib/herd/')), 'nothing of the state directory');
  assert.is(byTarget.get('/j/root/var/lib/herd')!.type, 'tmpfs', 'the state directory is hidden by an empty tmpfs');
  assert.is(byTarget.get('/j/root/proc')!.type, 'proc');
  assert.is(byTarget.get('/j/root/tmp')!.options, 'nosuid,nodev,mode=1777,size=1024');
  assert.is(byTarget.get('/j/root/work')!.source, '/j/work');
  assert.is(byTarget.get('/j/root/etc/hostname')!.source, '/j/hostname');
  assert.not.ok(byTarget.has('/j/root/etc/hosts'), 'no bind onto an /etc file the host does not have');
  assert.is(byTarget.get('/j/root/sys')!.options, 'bind,ro,nosuid,nodev,noexec');
  assert.ok(plan.skeleton.some((e) => e.kind === 'symlink' && e.path === 'root/bin' && e.target === 'usr/bin'));
  assert.ok(plan.skeleton.some((e) => e.kind === 'file' && e.path === 'root/vmlinuz'));
  assert.ok(plan.skeleton.some((e) => e.kind === 'file' && e.path === 'hostname' && e.content === 'h\n'));
  assert.not.ok(byTarget.has('/j/root/work') && byTarget.get('/j/root/work')!.source === '/work', 'the host /work is not the job\'s');
  // Parents are mounted before their children.
  const order = plan.fstab.map((e) => e.target);
  assert.ok(order.indexOf('/j/root/home') < order.indexOf('/j/root/home/data set'));
  assert.ok(order.indexOf('/j/root/dev') < order.indexOf('/j/root/dev/null'));
});

test('sandbox: rootless jobs bind the host recursively (locked submounts refuse a plain bind)', () => {
  const plan = planSandbox(ROOT, parseMountinfo(MOUNTINFO), { jobDir: '/j', hostname: 'h', stateDir: '/home/u/.cache/herd', tmpBytes: 1024, recursive: true, etcFiles: new Set() });
  const byTarget = new Map(plan.fstab.map((e) => [e.target, e]));
  assert.is(byTarget.get('/j/root/usr')!.options, 'rbind,ro,nosuid,nodev');
  assert.not.ok(byTarget.has('/j/root/home/data set'), 'submounts come with the recursive bind');
  assert.is(byTarget.get('/j/root/home/u/.cache/herd')!.type, 'tmpfs', 'the state directory under /home is hidden');
});

test('sandbox: a resolv.conf symlink into /run gets its target inside the job\'s own /run', () => {
  const plan = planSandbox(ROOT, parseMountinfo(MOUNTINFO), {
    jobDir: '/j', hostname: 'h', stateDir: '/var/lib/herd', tmpBytes: 1024, recursive: false, etcFiles: new Set(),
    resolvLink: { target: '/run/systemd/resolve/stub-resolv.conf', content: 'nameserver 1.2.3.4\n' },
  });
  assert.ok(plan.skeleton.some((e) => e.kind === 'file' && e.path === 'resolve/stub-resolv.conf' && e.content === 'nameserver 1.2.3.4\n'));
  const targets = plan.fstab.map((e) => e.target);
  const bind = plan.fstab.find((e) => e.target === '/j/root/run/systemd/resolve')!;
  assert.is(bind.options, 'bind,ro,X-mount.mkdir');
  assert.ok(targets.indexOf('/j/root/run') < targets.indexOf('/j/root/run/systemd/resolve'), 'after the job\'s /run tmpfs');
});

test('fstab rendering escapes white space and refuses newlines', () => {
  const text = renderFstab([{ source: '/a b', target: '/t\\x', type: 'none', options: 'bind' }]);
  assert.is(text, '/a\\040b /t\\134x none bind 0 0\n');
  assert.throws(() => renderFstab([{ source: '/a\nb', target: '/t', type: 'none', options: 'bind' }]));
});

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
  assert.ok(filtered.sandbox.skeleton.some((e) => e.kind === 'link' && e.path === 'root/.herd-seccomp' && e.from === '/var/lib/herd/herd-seccomp-x'));
  const without = planJob({ t: 'run', argv: ['echo'], env: {} }, { ...context, seccomp: { problem: 'no seccomp for arm64 hosts yet' } });
  assert.equal(without.seccomp, { loaded: false, problem: 'no seccomp for arm64 hosts yet' });
  assert.not.ok(jobArgv(without, '/j', '/usr/bin/echo', tools, true).includes('/.herd-seccomp'));
  assert.is(codeOf(() => planJob({ t: 'run', argv: ['echo'], env: {}, requireSeccomp: true }, { ...context, seccomp: { problem: 'x' } })), 'ISOLATION_UNSUPPORTED');
});

test('job ids: the range is refused where the host already has users, groups or subordinate ids in it', () => {
  const files: Record<string, string> = {
    '/etc/passwd': 'root:x:0:0::/root:/bin/sh\nodd:x:1879048200:5::/:/bin/sh\n',
    '/etc/group': 'root:x:0:\n',
    '/etc/subuid': 'alice:100000:65536\nbob:1879000000:100000\n',
  };
  const found = rangeConflicts(JOB_IDS, (path) => files[path] ?? null);
  assert.equal(found, ['/etc/passwd: odd (1879048200)', '/etc/subuid: bob (1879000000+100000)']);
  assert.equal(rangeConflicts(JOB_IDS, () => 'root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n'), []);
  assert.is(idMapLine(JOB_IDS), '0 1879048192 65536\n');
});

test('sandbox: runc\'s /proc masks and read-only paths, a read-only /dev, homes and secrets covered', () => {
  const plan = planSandbox(ROOT, parseMountinfo(MOUNTINFO), {
    jobDir: '/j', hostname: 'h', stateDir: '/var/lib/herd', tmpBytes: 1024, recursive: false, etcFiles: new Set(),
    jobRoot: { uid: 7, gid: 8 },
    procEntries: new Set(['sys', 'sysrq-trigger', 'irq', 'keys']),
    hidden: [{ path: '/proc/keys', kind: 'file' }, { path: '/sys/firmware', kind: 'dir' }, { path: '/home', kind: 'dir' }, { path: '/etc/shadow', kind: 'file' }],
  });
  const byTarget = new Map(plan.fstab.map((e) => [e.target, e]));
  const order = plan.fstab.map((e) => e.target);
  for (const p of ['sys', 'sysrq-trigger', 'irq']) {
    assert.is(byTarget.get(`/j/root/proc/${p}`)!.options, 'bind,ro,nosuid,nodev,noexec', p);
    assert.ok(order.indexOf('/j/root/proc') < order.indexOf(`/j/root/proc/${p}`));
  }
  assert.not.ok(byTarget.has('/j/root/proc/bus'), 'only what the host\'s /proc has');
  assert.equal(byTarget.get('/j/root/proc/keys'), { source: '/dev/null', target: '/j/root/proc/keys', type: 'none', options: 'bind,ro' });
  assert.is(byTarget.get('/j/root/sys/firmware')!.type, 'tmpfs');
  assert.ok(order.indexOf('/j/root/sys') < order.indexOf('/j/root/sys/firmware'));
  assert.is(byTarget.get('/j/root/home')!.type, 'tmpfs');
  assert.ok(order.indexOf('/j/root/home') > order.indexOf('/j/root/home/data set') || !byTarget.has('/j/root/home/data set'));
  assert.not.ok(byTarget.has('/j/root/home/data set'), 'nothing is mounted under a covered directory');
  assert.is(byTarget.get('/j/root/etc/shadow')!.source, '/dev/null');
  assert.is(byTarget.get('/j/root/dev')!.options, 'bind,ro,nosuid,nodev,noexec');
  assert.ok(order.indexOf('/j/root/dev') < order.indexOf('/j/root/dev/null'));
  assert.match(byTarget.get('/j/root/tmp')!.options, /,uid=7,gid=8$/);
  assert.match(byTarget.get('/j/root/run')!.options, /,uid=7,gid=8$/);
  assert.ok(plan.skeleton.some((e) => e.kind === 'symlink' && e.path === 'dev/fd' && e.target === '/proc/self/fd'));
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

test('env step: reads the environment exactly as sent from fd 3, exports it and nothing of its own, then execs', () => {
  const env = { A: '1', ODD: "it's a\n line\twith $HOME and `x`\n.\n", E: '', LAST: 'x=y', l: 'n', n: 'v' };
  // What the init leaves the step: a fixed PATH only.
  const shell = spawnSync('/bin/sh', ['-c', `/bin/sh -c "$0" herd-env /usr/bin/env 3<&0`, ENV_SCRIPT], { env: { PATH: '/usr/bin:/bin' }, input: `${environmentBlock(env)}more input for the command\n` });
  const seen = Object.fromEntries(
    shell.stdout.toString().replace(/\n$/, '').split(/\n(?=[A-Za-z_]+=)/).filter((l) => l !== '').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  delete seen.PWD;
  assert.equal(seen, { PATH: '/usr/bin:/bin', ...env });
});

test.run();
