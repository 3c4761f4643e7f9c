import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { io } from '../../../../../src/remote/cgroups/controllers/io.ts';

test('io usage: bytes of the job\'s disk only, v1 blkio lines and v2 io.stat pairs', () => {
  const v1 = '254:0 Read 4096\n254:0 Write 8192\n254:0 Sync 100\n8:0 Read 7\nTotal 12288\n';
  assert.equal(io.read['blkio.throttle.io_service_bytes']!(v1, { kind: 'blkio.throttle.io_service_bytes', path: '', device: '254:0' }), { readBytes: 4096, writeBytes: 8192 });
  const v2 = '254:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:0 rbytes=5 wbytes=6\n';
  assert.equal(io.read['io.stat']!(v2, { kind: 'io.stat', path: '', device: '254:0' }), { readBytes: 100, writeBytes: 200 });
  assert.equal(io.read['io.stat']!(v2, { kind: 'io.stat', path: '', device: null }), { readBytes: 105, writeBytes: 206 }, 'no known disk: every device counts');
});

test('io limits: one io.max line for both directions on v2, a file each on v1, none without a disk', () => {
  const facts = { onlineCpus: [0], ioDevice: { device: '254:0' } };
  assert.equal(io.planV2('/c/j', { limits: { readBps: 1, writeBps: 2 }, facts, device: '254:0' }).writes, [{ path: '/c/j/io.max', value: '254:0 rbps=1 wbps=2' }]);
  const v1 = io.planV1(() => '/b/j', { limits: { writeBps: 2 }, facts, device: '254:0' }, () => '/b');
  assert.equal(v1.writes, [{ path: '/b/j/blkio.throttle.write_bps_device', value: '254:0 2' }]);
  assert.equal(io.planV2('/c/j', { limits: { readBps: 1 }, facts, device: null }).writes, []);
});

test.run();
