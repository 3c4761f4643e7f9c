import type { Argv } from 'yargs';

export interface GlobalOptions {
  hosts?: string;
  exclude?: string;
  inventory?: string;
  /** -l/--login: the SSH user. */
  login?: string;
  /** --become (sudo to --become-user, root by default), -K: type sudo's password. */
  become?: { user: string; askPassword: boolean };
  config?: string;
  transport?: string;
  persist?: string;
  handshakeTimeout?: string;
  /** -F/--ssh-config: the OpenSSH config file to read instead of ~/.ssh/config and /etc/ssh/ssh_config. */
  sshConfig?: string;
  /** --ship-runtime auto|always|never. */
  shipRuntime?: string;
  json: boolean;
}

/** What a command hands back to the one place that exits. */
export interface CommandResult {
  exitCode: number;
}

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}

export type Args = Record<string, unknown>;

/**
 * A yargs command module whose handler returns its result instead of exiting;
 * `done` hands it to cli.ts, the one place that prints errors and sets the exit status.
 */
export interface CommandModule {
  command: string;
  /** Other spellings that run it (rnx's `job log` for `job logs`). */
  aliases?: readonly string[];
  describe: string;
  builder: (y: Argv) => Argv;
  handler: (argv: Args, io: Io) => Promise<CommandResult> | CommandResult;
}

export function globalOptions(argv: Args): GlobalOptions {
  return {
    ...(typeof argv.hosts === 'string' ? { hosts: argv.hosts } : {}),
    ...(typeof argv.exclude === 'string' ? { exclude: argv.exclude } : {}),
    ...(typeof argv.inventory === 'string' ? { inventory: argv.inventory } : {}),
    ...(typeof argv.login === 'string' ? { login: argv.login } : {}),
    ...(argv.become === true || typeof argv.becomeUser === 'string' || argv.askBecomePass === true
      ? { become: { user: typeof argv.becomeUser === 'string' ? argv.becomeUser : 'root', askPassword: argv.askBecomePass === true } }
      : {}),
    ...(typeof argv.config === 'string' ? { config: argv.config } : {}),
    ...(typeof argv.transport === 'string' ? { transport: argv.transport } : {}),
    ...(typeof argv.persist === 'string' ? { persist: argv.persist } : {}),
    ...(typeof argv.handshakeTimeout === 'string' ? { handshakeTimeout: argv.handshakeTimeout } : {}),
    ...(typeof argv.sshConfig === 'string' ? { sshConfig: argv.sshConfig } : {}),
    ...(typeof argv.shipRuntime === 'string' ? { shipRuntime: argv.shipRuntime } : {}),
    json: argv.json === true,
  };
}
