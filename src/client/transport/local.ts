import { spawn } from 'node:child_process';
import BOOTSTRAP from '../../remote/bootstrap.sh' with { type: 'text' };
import SUPERVISOR from '../../remote/supervisor.sh' with { type: 'text' };
import type { HelperAsset } from '../buildInfo.ts';
import type { ShipRuntime } from './bootstrapCommand.ts';
import type { RawChannel } from './channel.ts';
import { dialUnix, socketChannel } from './unixSocket.ts';

/** Runs the bootstrap as a local child process: the same path as a remote host, minus SSH. */
export function openLocal(helper: HelperAsset, ship: ShipRuntime = 'auto'): RawChannel {
  const stateDir = process.env.HERD_STATE_DIR ?? '';
  const child = spawn('/bin/sh', ['-c', BOOTSTRAP, 'herd-bootstrap', helper.sha256, String(helper.size), stateDir, ship, SUPERVISOR], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  child.stdin.on('error', () => {
    // the helper went away; the session reports the lost connection
  });
  return {
    stdout: child.stdout,
    stderr: child.stderr,
    stdin: child.stdin,
    exited,
    close: () => child.stdin.end(),
  };
}

/** Connects straight to a running local agent's socket; null when none answers. */
export async function connectLocalAgent(path: string): Promise<RawChannel | null> {
  const socket = await dialUnix(path);
  return socket === null ? null : socketChannel(socket);
}
