import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { asHerdError, HerdError } from '../protocol/errors.ts';
import { installNativeEd25519 } from '../remote/nativeEd25519.ts';
import { VERSION } from './buildInfo.ts';
import { certIssue, certShow } from './commands/cert.ts';
import { DEFAULT_PARALLEL, runCommand } from './commands/run.ts';
import type { CommandResult, GlobalOptions } from './commands/types.ts';
import { EXIT_HERD_ERROR, EXIT_USAGE } from './outcome.ts';
import { errorLine } from './render.ts';

type Args = Record<string, unknown>;

function globals(argv: Args): GlobalOptions {
  return {
    ...(typeof argv.hosts === 'string' ? { hosts: argv.hosts } : {}),
    ...(typeof argv.config === 'string' ? { config: argv.config } : {}),
    json: argv.json === true,
  };
}

const io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };

function runBuilder(y: Argv): Argv {
  return y
    .usage('$0 run [options] -- COMMAND [ARGS...]\n\nRun COMMAND in an isolated job on each host (the local machine by default) and stream its output.')
    .positional('cmd', { describe: 'the command and its arguments (put them after --)', type: 'string', array: true })
    .option('env', { alias: 'e', type: 'string', array: true, default: [], describe: 'set an environment variable in the job (KEY=VALUE; repeatable)' })
    .option('workdir', { alias: 'w', type: 'string', describe: 'working directory of the job on the host (default: a private directory per job)' })
    .option('grace', { type: 'string', default: '10s', describe: 'after Ctrl-C, time between SIGTERM and SIGKILL' })
    .option('accept-new', { type: 'boolean', default: false, describe: 'record the host key of hosts not yet in known_hosts (never a changed key)' })
    .option('stdin', { type: 'boolean', default: true, describe: 'forward local stdin to the job(s); --no-stdin gives them an empty stdin' })
    .option('parallel', { alias: 'f', type: 'number', default: DEFAULT_PARALLEL, describe: 'hosts contacted at once' })
    .option('connect-timeout', { type: 'string', default: '15s', describe: 'give up connecting to a host after this long' })
    .example('$0 run -- uname -a', 'run locally, isolated')
    .example('$0 run -H web1,web2 -- df -h /', 'run on two hosts from the config')
    .example('$0 run -H root@10.0.0.5:2222 --accept-new -- hostname', 'first contact with a new host');
}

async function runHandler(argv: Args): Promise<CommandResult> {
  const positional = Array.isArray(argv.cmd) ? (argv.cmd as unknown[]).map(String) : [];
  const rest = Array.isArray(argv['--']) ? (argv['--'] as unknown[]).map(String) : [];
  return runCommand(
    {
      ...globals(argv),
      command: [...positional, ...rest],
      env: (argv.env as string[] | undefined) ?? [],
      ...(typeof argv.workdir === 'string' ? { workdir: argv.workdir } : {}),
      grace: String(argv.grace),
      acceptNew: argv.acceptNew === true,
      stdin: argv.stdin !== false,
      parallel: Number(argv.parallel),
      connectTimeout: String(argv.connectTimeout),
    },
    io,
  );
}

export function buildParser(argv: string[], done: (result: CommandResult) => void): Argv {
  const record = (promise: Promise<CommandResult> | CommandResult): Promise<void> => Promise.resolve(promise).then(done);
  return yargs(argv)
    .scriptName('herd')
    .usage('$0 <command> [options]\n\nRun isolated jobs on fleets of Linux hosts over SSH.')
    .parserConfiguration({ 'populate--': true })
    .option('hosts', { alias: ['H', 'node'], type: 'string', global: true, describe: 'hosts to act on: local, names from the config, or user@host:port, comma-separated (default: local)' })
    .option('config', { type: 'string', global: true, describe: 'config file (default: $HERD_CONFIG, else $XDG_CONFIG_HOME/herd/config.yml or ~/.config/herd/config.yml)' })
    .option('json', { type: 'boolean', default: false, global: true, describe: 'print results as one JSON document' })
    .command('run [cmd..]', 'run a command in an isolated job on hosts', runBuilder, (a) => record(runHandler(a)))
    .command('job', 'jobs: run (more to come)', (y) =>
      y.command('run [cmd..]', 'same as herd run', runBuilder, (a) => record(runHandler(a))).demandCommand(1, 'name a job subcommand: run'),
    )
    .command('cert', 'certificates: issue, show', (y) =>
      y
        .command(
          'issue <name>',
          'issue a certificate and key for NAME from the CA in your config',
          (c) =>
            c
              .positional('name', { type: 'string', describe: 'subject of the certificate, e.g. alice or ci-bot', demandOption: true })
              .option('role', { type: 'string', choices: ['admin', 'user', 'viewer'], default: 'user', describe: 'what the holder may do' })
              .option('ttl', { type: 'string', default: '90d', describe: 'validity, e.g. 12h, 30d, 1y' })
              .option('out', { type: 'string', describe: 'write a ready-to-use config file (mode 0600) instead of printing it' }),
          (a) =>
            record(
              certIssue(
                { ...globals(a), name: String(a.name), role: String(a.role), ttl: String(a.ttl), ...(typeof a.out === 'string' ? { out: a.out } : {}) },
                io,
              ),
            ),
        )
        .command('show', 'show the identity in your config', (c) => c, (a) => record(certShow(globals(a), io)))
        .demandCommand(1, 'name a cert subcommand: issue or show'),
    )
    .demandCommand(1, 'name a command: run, job, cert (see herd --help)')
    .strict()
    .version(VERSION)
    .alias('version', 'V')
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((message, err) => {
      throw err ?? new HerdError('INVALID_SPEC', message);
    });
}

/** The one place that prints errors and decides the exit status. */
export async function main(argv: string[]): Promise<number> {
  installNativeEd25519();
  let result: CommandResult | null = null;
  try {
    await buildParser(argv, (r) => {
      result = r;
    }).parseAsync();
    return (result as CommandResult | null)?.exitCode ?? 0;
  } catch (err) {
    const error = asHerdError(err);
    process.stderr.write(`${errorLine(error)}\n`);
    return error.code === 'INVALID_SPEC' ? EXIT_USAGE : EXIT_HERD_ERROR;
  }
}

const code = await main(hideBin(process.argv));
// Open SSH sockets or a terminal on stdin must not keep us alive once the work is done.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
