import type { Become } from './become.ts';
import type { ShipRuntime } from './bootstrapCommand.ts';
import type { HelperAsset } from '../buildInfo.ts';
import type { HostTarget } from '../hosts/targets.ts';
import type { RawChannel } from './channel.ts';

/*
 * What herd needs of an SSH connection, whichever program makes it: ssh2 in this process
 * (ssh2.ts), the system `ssh` (openssh.ts), or a connection the --persist daemon holds
 * (../persist/persistClient.ts).
 */

export type TransportName = 'ssh2' | 'openssh';
export const TRANSPORTS: readonly TransportName[] = ['ssh2', 'openssh'];

export interface SshOptions {
  /** ssh2 (built in) or the system `ssh` binary. */
  transport: TransportName;
  acceptNew: boolean;
  knownHostsFile?: string;
  connectTimeoutMs: number;
  /** --handshake-timeout: once connected, how long the host has to finish herd's handshake (HOST_HANDSHAKE_TIMEOUT_MS). */
  handshakeTimeoutMs?: number;
  /** --persist: keep connections this long in a background process for the next herd (0: off). */
  persistMs?: number;
  /** The ssh-agent to use (default: $SSH_AUTH_SOCK). */
  authSock?: string;
  /** --become: the helper runs as this user through sudo. */
  become?: Become;
  /** --ship-runtime: what bootstrap does on a host without a JavaScript runtime (default auto: ship Bun). */
  shipRuntime?: ShipRuntime;
  /** -F/--ssh-config: the one OpenSSH config file read (none: none), given to the system ssh too. */
  sshConfigFile?: string;
  /** How a ProxyJump hop (`bastion`, `user@host:port`) is reached: resolved like -H, ~/.ssh/config included. */
  jumpTarget?: (spec: string) => SshTarget;
}

export type SshTarget = Extract<HostTarget, { kind: 'ssh' }>;

export interface SshConnection {
  /** Whether trying forward() costs little (a channel on an open connection), so a guess is worth it. */
  cheapForward: boolean;
  /** Starts the bootstrap in an exec channel (through sudo with --become). */
  bootstrap(helper: HelperAsset, become?: Become): Promise<RawChannel>;
  /** Runs a command in an exec channel (ssh2 and persisted connections). */
  exec?(command: string): Promise<RawChannel>;
  /** Bulk output is flowing over a forwarded channel: have sshd stop delaying it (see nodelay.ts); later calls do nothing. */
  bulk?(): void;
  /** Whether the connection can still open channels. */
  alive(): boolean;
  /** Whether the SSH connection existed before this herd process (--persist). */
  reused?(): boolean;
  /** Opens a channel to a unix socket on the host (OpenSSH stream-local forwarding); null if refused. */
  forward(socketPath: string): Promise<RawChannel | null>;
  close(): void;
}
