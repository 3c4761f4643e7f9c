import type { Controller } from './controller.ts';

/** The init and the command: fewer processes than this and no job can start. */
export const MIN_PIDS = 2;

/** How many processes the job may have at once (--max-pids). */
export const pids: Controller = {
  v1: 'pids',
  v2: 'pids',
  limits: ['pids'],
  planV1(dirOf, { limits }) {
    const dir = dirOf('pids');
    return { writes: limits.pids === undefined || dir === undefined ? [] : [{ path: `${dir}/pids.max`, value: String(limits.pids) }] };
  },
  planV2(dir, { limits }) {
    return { writes: limits.pids === undefined ? [] : [{ path: `${dir}/pids.max`, value: String(limits.pids) }] };
  },
  read: {},
};
