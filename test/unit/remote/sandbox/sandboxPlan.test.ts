import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseMountinfo } from '../../../../src/remote/system/mountinfo.ts';
import { planSandbox, renderFstab } from '../../../../src/remote/sandbox/sandboxPlan.ts';
import { MOUNTINFO, ROOT } from '../../helpers/hostFixture.ts';

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

test.run();
