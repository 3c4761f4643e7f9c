import { createReadStream, createWriteStream, openSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { runtimeName } from '../../shared/runtime.ts';

/**
 * The SSH channel of the bootstrap that started this agent (bootstrap.sh, HERD_CHANNEL): the agent
 * serves its first connection on it directly, with no relay process in between.
 */
export interface BootstrapChannel {
  input: Readable;
  output: Writable;
  /** Closes both ends and tells the bootstrap, which then ends the SSH session. */
  close(): void;
}

function isBootstrap(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('herd-bootstrap');
  } catch {
    return false;
  }
}

/**
 * Opens the bootstrap's stdin and stdout anew through /proc: descriptors of our own, close-on-exec
 * (the runtime opens every file so), where inherited ones would reach every process the agent
 * starts. Linux reopens a pipe this way, not a socket. Null when it cannot.
 */
export function openBootstrapChannel(pid: number): BootstrapChannel | null {
  if (!Number.isSafeInteger(pid) || pid <= 1 || !isBootstrap(pid)) return null;
  let inFd: number;
  let outFd: number;
  try {
    inFd = openSync(`/proc/${pid}/fd/0`, 'r');
    outFd = openSync(`/proc/${pid}/fd/1`, 'a');
  } catch {
    return null;
  }
  // Node and Deno read a pipe descriptor best as a socket (non-blocking, on the event loop); Bun
  // takes one only as a file stream.
  const bun = runtimeName === 'bun';
  const input: Readable = bun ? createReadStream('', { fd: inFd }) : new Socket({ fd: inFd, readable: true, writable: false });
  const output: Writable = bun ? createWriteStream('', { fd: outFd }) : new Socket({ fd: outFd, readable: false, writable: true });
  input.on('error', () => {});
  output.on('error', () => {});
  let closed = false;
  return {
    input,
    output,
    close: () => {
      if (closed) return;
      closed = true;
      input.destroy();
      output.destroy();
      // The bootstrap may be gone already (the SSH connection dropped); a reused pid is not ours.
      if (isBootstrap(pid)) {
        try {
          process.kill(pid, 'SIGUSR1');
        } catch {
          // gone meanwhile
        }
      }
    },
  };
}
