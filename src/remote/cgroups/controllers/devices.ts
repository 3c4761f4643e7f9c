import type { Controller } from './controller.ts';
import { v1DeviceWrites } from '../devicePolicy.ts';

/**
 * The job's device allow list (devicePolicy.ts). v1: the devices controller, written before
 * anything joins, so the job never has a moment with the host's devices. v2 has no controller
 * for it: herd-devices attaches an eBPF program instead (see plan.ts, jobCgroup.ts).
 */
export const devices: Controller = {
  v1: 'devices',
  v2: null,
  limits: [],
  planV1(dirOf) {
    const dir = dirOf('devices');
    return dir === undefined ? {} : { prepare: v1DeviceWrites(dir) };
  },
  planV2() {
    return {};
  },
  read: {},
};
