import { realpathSync } from 'node:fs';
import { HerdError } from '../../protocol/errors.ts';
import { resolveCommand } from './command.ts';
import { HOST_PATH } from './hostPath.ts';

/** Where the host's unshare and setpriv are. */
export interface HostTools {
  unshare: string;
  setpriv: string;
}

/** The host's unshare and setpriv, by their real paths, found on the agent's PATH and herd's. */
export function findHostTools(): HostTools {
  const find = (name: string): string => {
    try {
      // The real path: a symlink in, say, /tmp would not be visible inside the job.
      return realpathSync(resolveCommand(name, `${process.env.PATH ?? ''}:${HOST_PATH}`));
    } catch {
      throw new HerdError('JOB_FAILED', `${name}(1) is not installed on this host: install util-linux`);
    }
  };
  return { unshare: find('unshare'), setpriv: find('setpriv') };
}
