import type { Controller } from './controller.ts';

/** Disk bandwidth on the disk behind /work (--max-read-bps, --max-write-bps) and the bytes moved (v1: blkio; v2: io). */
export const io: Controller = {
  v1: 'blkio',
  v2: 'io',
  limits: ['readBps', 'writeBps'],
  planV1(dirOf, { limits, device }) {
    const dir = dirOf('blkio');
    if (dir === undefined) return {};
    const writes = [];
    if (device !== null) {
      if (limits.readBps !== undefined) writes.push({ path: `${dir}/blkio.throttle.read_bps_device`, value: `${device} ${limits.readBps}` });
      if (limits.writeBps !== undefined) writes.push({ path: `${dir}/blkio.throttle.write_bps_device`, value: `${device} ${limits.writeBps}` });
    }
    return { writes, usage: [{ kind: 'blkio.throttle.io_service_bytes', path: `${dir}/blkio.throttle.io_service_bytes`, device }] };
  },
  planV2(dir, { limits, device }) {
    const writes = [];
    if (device !== null && (limits.readBps !== undefined || limits.writeBps !== undefined)) {
      const parts = [device];
      if (limits.readBps !== undefined) parts.push(`rbps=${limits.readBps}`);
      if (limits.writeBps !== undefined) parts.push(`wbps=${limits.writeBps}`);
      writes.push({ path: `${dir}/io.max`, value: parts.join(' ') });
    }
    return { writes, usage: [{ kind: 'io.stat', path: `${dir}/io.stat`, device }] };
  },
  read: {
    // "8:0 Read 4096" lines, per device and operation.
    'blkio.throttle.io_service_bytes': (text, source) => {
      const device = 'device' in source ? source.device : null;
      let read = 0;
      let write = 0;
      for (const line of text.split('\n')) {
        const [dev, op, value] = line.split(' ');
        if (device !== null && dev !== device) continue;
        if (op === 'Read') read += Number(value);
        if (op === 'Write') write += Number(value);
      }
      return { readBytes: read, writeBytes: write };
    },
    // "8:0 rbytes=4096 wbytes=0 ..." lines, one per device.
    'io.stat': (text, source) => {
      const device = 'device' in source ? source.device : null;
      let read = 0;
      let write = 0;
      for (const line of text.split('\n')) {
        const [dev, ...pairs] = line.split(' ');
        if (dev === undefined || dev === '' || (device !== null && dev !== device)) continue;
        for (const pair of pairs) {
          const [key, value] = pair.split('=');
          if (key === 'rbytes') read += Number(value);
          if (key === 'wbytes') write += Number(value);
        }
      }
      return { readBytes: read, writeBytes: write };
    },
  },
};
