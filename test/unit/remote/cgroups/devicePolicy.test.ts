import { statSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deviceLoader } from '../../../../src/remote/cgroups/deviceLoader.ts';
import { deviceProgram, encodeProgram, JOB_DEVICES, runDeviceProgram, v1DeviceWrites, type DeviceAccess } from '../../../../src/remote/cgroups/devicePolicy.ts';
import { splitDevice } from '../../../../src/remote/cgroups/facts.ts';
import { detectHierarchy } from '../../../../src/remote/cgroups/hierarchy.ts';
import { planCgroup, type CgroupFacts } from '../../../../src/remote/cgroups/plan.ts';
import { DEVICES } from '../../../../src/remote/sandbox/sandboxPlan.ts';
import { parseMountinfo } from '../../../../src/remote/system/mountinfo.ts';

const program = encodeProgram(deviceProgram());
const rw = { read: true, write: true };
const verdict = (request: DeviceAccess): number => runDeviceProgram(program, request);

test('eBPF policy: every device of the job\'s /dev may be read and written, pseudo-terminals by any minor', () => {
  for (const rule of JOB_DEVICES) {
    const minors = rule.minor === '*' ? [0, 7, 1 << 19] : [rule.minor];
    for (const minor of minors) {
      assert.is(verdict({ type: rule.type, access: rw, major: rule.major, minor }), 1, `${rule.what} ${rule.major}:${minor}`);
      assert.is(verdict({ type: rule.type, access: { read: true }, major: rule.major, minor }), 1, `${rule.what} read only`);
    }
  }
});

test('eBPF policy: mknod of anything, block devices, other minors, other majors and other types are denied', () => {
  assert.is(verdict({ type: 'c', access: { mknod: true }, major: 1, minor: 3 }), 0, 'mknod even of /dev/null');
  assert.is(verdict({ type: 'c', access: { read: true, mknod: true }, major: 1, minor: 3 }), 0, 'mknod with read');
  assert.is(verdict({ type: 'b', access: rw, major: 7, minor: 0 }), 0, 'a loop device');
  assert.is(verdict({ type: 'b', access: { read: true }, major: 8, minor: 0 }), 0, 'a disk');
  assert.is(verdict({ type: 'b', access: rw, major: 1, minor: 3 }), 0, '1:3 as a block device');
  assert.is(verdict({ type: 'c', access: rw, major: 1, minor: 1 }), 0, '/dev/mem');
  assert.is(verdict({ type: 'c', access: rw, major: 1, minor: 11 }), 0, '/dev/kmsg');
  assert.is(verdict({ type: 'c', access: rw, major: 10, minor: 200 }), 0, '/dev/net/tun');
  assert.is(verdict({ type: 'c', access: rw, major: 4, minor: 1 }), 0, 'a virtual console');
  assert.is(verdict({ type: 'c', access: rw, major: 137, minor: 0 }), 0, 'the next pts major');
  assert.is(verdict({ type: 'c', access: rw, major: 5, minor: 1 }), 0, '/dev/console');
});

test('the v1 lines say the same: deny all first, then one read-write line per device, no mknod', () => {
  const writes = v1DeviceWrites('/cg/devices/herd/j');
  assert.equal(writes[0], { path: '/cg/devices/herd/j/devices.deny', value: 'a' });
  assert.equal(writes.slice(1).map((w) => w.value), ['c 1:3 rw', 'c 1:5 rw', 'c 1:7 rw', 'c 1:8 rw', 'c 1:9 rw', 'c 5:0 rw', 'c 5:2 rw', 'c 136:* rw']);
  assert.ok(writes.slice(1).every((w) => w.path === '/cg/devices/herd/j/devices.allow'));
});

test('the allow list covers each device the sandbox binds into /dev, by its numbers on this machine', () => {
  for (const name of DEVICES) {
    const { major, minor } = splitDevice(statSync(`/dev/${name}`).rdev);
    assert.is(verdict({ type: 'c', access: rw, major, minor }), 1, `/dev/${name} is ${major}:${minor}`);
  }
});

test('herd-devices: an x86_64 ELF whose bpf_attr points at the program and the license inside the file', () => {
  const file = deviceLoader();
  const view = new DataView(file.buffer);
  assert.equal([...file.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
  assert.is(view.getUint16(18, true), 0x3e);
  const base = 0x400000;
  const attr = 120 + 0xf8;
  assert.is(view.getUint32(attr, true), 15, 'BPF_PROG_TYPE_CGROUP_DEVICE');
  assert.is(view.getUint32(attr + 4, true), program.length / 8, 'insn_cnt');
  const insns = Number(view.getBigUint64(attr + 8, true)) - base;
  assert.equal([...file.subarray(insns, insns + program.length)], [...program]);
  const license = Number(view.getBigUint64(attr + 16, true)) - base;
  assert.is(new TextDecoder().decode(file.subarray(license, license + 3)), 'MIT');
  assert.is(file[license + 3], 0);
  assert.is(new TextDecoder().decode(file.subarray(attr + 48, attr + 60)), 'herd_devices');
  assert.is(Number(view.getBigUint64(96, true)), file.length, 'p_filesz: the whole file is mapped');
});

const facts: CgroupFacts = { onlineCpus: [0, 1], ioDevice: { device: '254:0' } };

test('plans: v1 writes the policy before anything joins; v2 names the loader; a host without either says why', () => {
  const withDevices = detectHierarchy(parseMountinfo('40 31 0:40 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n41 31 0:41 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory'), () => null)!;
  const v1 = planCgroup({}, withDevices, facts, 'j1')!;
  assert.equal(v1.devices, { kind: 'v1' });
  assert.ok(v1.leaves.includes('/sys/fs/cgroup/devices/herd/j1'));
  assert.ok(v1.prepare.some((w) => w.path === '/sys/fs/cgroup/devices/herd/j1/devices.deny' && w.value === 'a'), 'in prepare: a spare has it too');
  const without = detectHierarchy(parseMountinfo('41 31 0:41 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory'), () => null)!;
  assert.equal(planCgroup({}, without, facts, 'j1')!.devices, { kind: 'none', problem: 'this host has no devices cgroup controller' });
  const v2Host = detectHierarchy(parseMountinfo('30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw'), () => 'memory pids')!;
  assert.equal(planCgroup({}, v2Host, { ...facts, v2Devices: { loader: '/s/herd-devices-x' } }, 'j2')!.devices, { kind: 'bpf', loader: '/s/herd-devices-x' });
  assert.equal(planCgroup({}, v2Host, { ...facts, v2Devices: { problem: 'no bpf' } }, 'j2')!.devices, { kind: 'none', problem: 'no bpf' });
});

test.run();
