import { join } from 'node:path';

/** Where one host keeps herd's state; the bootstrap decides the directory and passes it in. */
export interface StatePaths {
  dir: string;
  socket: string;
  lock: string;
  log: string;
  hostKey: string;
  hostCert: string;
  caKey: string;
  jobs: string;
}

export function statePaths(dir: string): StatePaths {
  return {
    dir,
    socket: join(dir, 'agent.sock'),
    lock: join(dir, 'agent.lock'),
    log: join(dir, 'agent.log'),
    hostKey: join(dir, 'host.key'),
    hostCert: join(dir, 'host.cert'),
    caKey: join(dir, 'ca.pub'),
    jobs: join(dir, 'jobs'),
  };
}
