import type { RawChannel } from './channel.ts';

/**
 * Output received over one connection after which bulk output is taken to be flowing. Below it
 * Nagle costs little (and small pieces are nudged, see hostConnection.ts); above it, it costs a
 * third of the throughput.
 */
export const BULK_BYTES = 256 * 1024;

/**
 * Makes sshd send without Nagle's algorithm. OpenSSH's sshd sets TCP_NODELAY on its connection only
 * when a session starts a command (ssh_packet_set_interactive, called from do_exec), never for
 * forwarded channels. A connection that only reaches the agent's socket keeps Nagle on, and bulk
 * output stalls on the client's delayed ACKs: 1 GiB took 2.7 s instead of 1.9 s on the testbed.
 * `true` in a session flips it for the rest of the connection; it runs only once a connection
 * carries bulk output, so short runs start no process on the host.
 */
export function runTrue(exec: (command: string) => Promise<RawChannel>): void {
  exec('true').then(
    (channel) => {
      channel.stdout.resume();
      channel.stderr.resume();
      channel.stdin.end();
    },
    () => {
      // A host that refuses sessions keeps Nagle: slower bulk output, nothing wrong.
    },
  );
}

/** A transport's bulk(): only its first call does anything (one `true` per connection is enough). */
export function once(action: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    action();
  };
}
