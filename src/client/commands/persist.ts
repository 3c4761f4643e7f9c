import { persistDaemonPid, persistPaths } from '../persist/persistClient.ts';
import { jsonDocument } from '../output/jsonDocument.ts';
import { runPersistDaemon } from '../persist/persistDaemon.ts';
import type { CommandModule } from './types.ts';

/** `herd persist status`: whether the --persist daemon runs, and where. */
const status: CommandModule = {
  command: 'status',
  describe: 'show whether the background process of --persist runs (its pid and socket)',
  builder: (y) => y,
  handler: (argv, io) => {
    const pid = persistDaemonPid();
    const { socket, log } = persistPaths();
    if (argv.json === true) io.stdout.write(jsonDocument('persist-status', { running: pid !== null, pid, socket, log }));
    else io.stdout.write(`${pid === null ? 'not running' : `running, pid ${pid}, socket ${socket}`}; its log: ${log}\n`);
    return { exitCode: 0 };
  },
};

/** `herd persist stop`: closes every kept connection now (the daemon exits). */
const stop: CommandModule = {
  command: 'stop',
  describe: 'close the kept connections now: the background process exits',
  builder: (y) => y,
  handler: async (argv, io) => {
    const pid = persistDaemonPid();
    if (pid !== null) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 50 && persistDaemonPid() === pid; i++) await new Promise((r) => setTimeout(r, 100));
    }
    if (argv.json === true) io.stdout.write(jsonDocument('persist-stop', { stopped: pid }));
    else io.stdout.write(pid === null ? 'not running\n' : `stopped pid ${pid}\n`);
    return { exitCode: 0 };
  },
};

export const persistModule = {
  command: 'persist',
  describe: 'the background process that keeps SSH connections for --persist: status, stop',
  subcommands: [status, stop],
};

/** Started by herd itself (detached) on the first --persist; not for people. */
export const persistDaemonModule: CommandModule = {
  command: '__persist-daemon',
  describe: false as unknown as string,
  builder: (y) =>
    y
      .option('socket', { type: 'string', demandOption: true })
      .option('pid-file', { type: 'string', demandOption: true })
      .option('persist-ms', { type: 'number', demandOption: true }),
  handler: async (argv) => {
    await runPersistDaemon(String(argv.socket), String(argv.pidFile), Number(argv.persistMs));
    // The daemon lives on its server and timers; main's exit must not end it.
    await new Promise<never>(() => {});
    return { exitCode: 0 };
  },
};
