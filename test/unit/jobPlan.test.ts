import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { jobArgv, KEPT_CAPABILITIES, launchScript, planJob, type PlanContext } from '../../src/remote/jobPlan.ts';
import { parseMountinfo } from '../../src/remote/mountinfo.ts';
import { planSandbox, renderFstab, type RootEntry } from '../../src/remote/sandboxPlan.ts';
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

test('job argv: namespaces, init as PID 1, cgroup namespace and setpriv before the command', () => {
  const plan = planJob({ t: 'run', argv: ['echo', 'hi'], env: {}, user: { uid: 1000, gid: 100 } }, context);
  const args = jobArgv(plan, '/j', '/usr/bin/echo', { unshare: '/usr/bin/unshare', setpriv: '/usr/bin/setpriv' }, false);
  for (const flag of ['--pid', '--mount', '--uts', '--ipc', '--fork', '--kill-child=SIGKILL']) assert.ok(args.includes(flag), flag);
  assert.not.ok(args.includes('--user'), 'no user namespace as root');
  const setpriv = args.indexOf('/usr/bin/setpriv');
  assert.ok(args.indexOf('--cgroup') < setpriv);
  assert.ok(args.includes('--no-new-privs'));
  assert.ok(args.includes(`--bounding-set=-all,${KEPT_CAPABILITIES.map((c) => `+${c}`).join(',')}`));
  assert.not.match(args.join(' '), /sys_admin|sys_module|net_admin|sys_ptrace/);
  assert.ok(args.includes('--reuid=1000') && args.includes('--regid=100') && args.includes('--clear-groups'));
  assert.equal(args.slice(-3), ['--', '/usr/bin/echo', 'hi']);
  const rootless = jobArgv({ ...plan, userNamespace: true, user: null }, '/j', '/usr/bin/echo', { unshare: 'u', setpriv: 's' }, false);
  assert.ok(rootless.includes('--map-root-user'));
  const joined = jobArgv(plan, '/j', '/usr/bin/echo', { unshare: 'u', setpriv: 's' }, true);
  assert.ok(joined.indexOf('--cgroup') < joined.indexOf('--fork'), 'already in its cgroup: the first unshare makes the cgroup namespace');
  assert.is(joined.filter((a) => a === 'u').length, 0, 'and no second unshare');
});

test('launch script: cd, the environment quoted, exec', () => {
  const plan = planJob({ t: 'run', argv: ['echo'], env: { ODD: "it's a\nline" } }, context);
  const script = launchScript(plan, "/j d", ['/usr/bin/unshare', '--pid', "a'b"]);
  assert.match(script, /^cd '\/j d' \|\| exit 125\n/);
  assert.match(script, /export ODD='it'\\''s a\nline'\n/);
  assert.match(script, /exec '\/usr\/bin\/unshare' '--pid' 'a'\\''b'\n$/);
});

test.run();
