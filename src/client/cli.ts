import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { asHerdError } from '../protocol/errors.ts';
import { installNativeEd25519 } from '../shared/nativeEd25519.ts';
import { VERSION } from './buildInfo.ts';
import { auditModule } from './commands/audit.ts';
import { caModule } from './commands/ca.ts';
import { completionModule } from './commands/completion.ts';
import { runtimeModule } from './commands/runtime.ts';
import { completeWords } from './completion/candidates.ts';
import { completionData } from './completion/completionData.ts';
import { usageError, type CommandShape } from './usage/usageErrors.ts';
import { certModule } from './commands/cert.ts';
import { hostsModule } from './commands/hosts.ts';
import { hostModule } from './commands/host.ts';
import { jobModule } from './commands/job.ts';
import { networkModule } from './commands/network.ts';
import { persistDaemonModule, persistModule } from './commands/persist.ts';
import { runModule } from './commands/run.ts';
import type { CommandModule, CommandResult, Io } from './commands/types.ts';
import { EXIT_HERD_ERROR, EXIT_USAGE } from './output/outcome.ts';
import { errorLine } from './output/render.ts';

type FallbackCompletion = (current: string, argv: unknown, yargsCompletion: (onCompleted?: (err: Error | null, completions: string[] | undefined) => void) => unknown, done: (completions: string[]) => unknown) => void;

const io: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };

/** Every command's words and required arguments, for usage errors ("herd job logs: give a job id"). */
const COMMANDS: CommandShape[] = (() => {
  const shapes: CommandShape[] = [];
  const add = (prefix: readonly string[], module: { command: string; aliases?: readonly string[] }): void => {
    const [name, ...rest] = module.command.split(' ');
    const required = rest.filter((r) => r.startsWith('<')).map((r) => r.replace(/[<>.]/g, ''));
    for (const word of [name!, ...(module.aliases ?? [])]) if (word !== '$0' && !word.startsWith('__')) shapes.push({ words: [...prefix, word], required });
  };
  for (const module of [runModule, hostsModule, completionModule]) add([], module);
  for (const group of [jobModule, certModule, hostModule, auditModule, caModule, networkModule, persistModule, runtimeModule]) {
    add([], { command: group.command });
    for (const sub of group.subcommands) add([group.command], sub);
  }
  return shapes;
})();

export function buildParser(argv: string[], done: (result: CommandResult) => void): Argv {
  const mount = (y: Argv, module: CommandModule): Argv =>
    y.command([module.command, ...(module.aliases ?? []).map((a) => `${a}${module.command.slice(module.command.split(' ')[0]!.length)}`)], module.describe, module.builder, async (a) => done(await module.handler(a, io)));
  let parser: Argv = yargs(argv)
    .scriptName('herd')
    .usage('$0 <command> [options]\n\nRun isolated jobs on fleets of Linux hosts over SSH.')
    .parserConfiguration({ 'populate--': true })
    .option('hosts', { alias: ['H', 'node'], type: 'string', global: true, describe: 'hosts to act on, a nodeset: local, names from the config or inventory, user@host:port, web[01-20], @group; comma-separated (default: local)' })
    .option('exclude', { alias: 'x', type: 'string', global: true, describe: 'leave out these hosts (a nodeset)' })
    .option('inventory', { alias: 'i', type: 'string', global: true, describe: 'an Ansible inventory (YAML or INI): its hosts, groups (@group), ansible_host/port/user' })
    .option('login', { alias: 'l', type: 'string', global: true, describe: 'the SSH user on every host that does not name one (user@host), over the config\'s, the inventory\'s and ~/.ssh/config\'s (clush -l; Ansible calls it -u, which in herd is the job\'s user)' })
    .option('become', { type: 'boolean', global: true, describe: 'run herd\'s helper on the hosts through sudo, as --become-user (root): a root agent, whatever the SSH login (Ansible\'s become)' })
    .option('become-user', { type: 'string', global: true, describe: 'the user --become becomes (default root; implies --become)' })
    .option('ask-become-pass', { alias: 'K', type: 'boolean', global: true, describe: 'sudo needs a password: ask for it once on the terminal (echo off) and type it on every host (implies --become)' })
    .option('config', { type: 'string', global: true, describe: 'config file (default: $HERD_CONFIG, else $XDG_CONFIG_HOME/herd/config.yml or ~/.config/herd/config.yml)' })
    .option('transport', {
      type: 'string',
      global: true,
      describe: 'how hosts are reached: ssh2 (built in, the default) or openssh (the system ssh binary: ProxyCommand, OpenSSH certificates, its ControlMaster); config: defaults.transport',
    })
    .option('persist', {
      type: 'string',
      global: true,
      describe:
        'keep SSH connections open this long (e.g. 10m) in a per-user background process, so the next herd commands skip the handshake; 0: off (the default; config: defaults.persist). See herd persist',
    })
    .option('handshake-timeout', {
      type: 'string',
      global: true,
      describe: 'once SSH is connected, how long a host has to finish herd\'s handshake (start the helper, prove its identity) before it is given up as HOST_UNRESPONSIVE (default 30s)',
    })
    .option('ship-runtime', {
      type: 'string',
      global: true,
      describe: 'hosts without node, bun or deno: auto ships Bun to them (the default), always ships it to every host, never refuses them; config: defaults.shipRuntime',
    })
    .option('ssh-config', {
      alias: 'F',
      type: 'string',
      global: true,
      describe: 'the OpenSSH config file to read instead of ~/.ssh/config and /etc/ssh/ssh_config, as ssh -F (none: no file); config: defaults.sshConfig',
    })
    .option('json', { type: 'boolean', default: false, global: true, describe: 'print results as one JSON document' });
  parser = mount(parser, runModule);
  parser = mount(parser, hostsModule);
  parser = parser
    .command(jobModule.command, jobModule.describe, (y) =>
      jobModule.subcommands
        .reduce(mount, y)
        .demandCommand(1, 'name a job subcommand: run, list, status, logs, wait, stop, delete or prune')
        .epilog(
          'Without -H, commands that take a job id go to the host you started that job on (remembered in ~/.cache/herd/jobs.json), else to the local machine. A unique prefix of an id works. States: SCHEDULED, RUNNING, COMPLETED, FAILED, STOPPED, LOST (see docs/jobs.md).',
        ),
    )
    .command(certModule.command, certModule.describe, (y) =>
      certModule.subcommands.reduce(mount, y).demandCommand(1, 'name a cert subcommand: issue, renew, revoke or show'),
    )
    .command(hostModule.command, hostModule.describe, (y) => hostModule.subcommands.reduce(mount, y).demandCommand(1, 'name a host subcommand: sync, trust or list'))
    .command(caModule.command, caModule.describe, (y) => caModule.subcommands.reduce(mount, y).demandCommand(1, 'name a ca subcommand: rotate'))
    .command(auditModule.command, auditModule.describe, (y) => auditModule.subcommands.reduce(mount, y))
    .command(networkModule.command, networkModule.describe, (y) =>
      networkModule.subcommands.reduce(mount, y).demandCommand(1, 'name a network subcommand: create, list or remove'),
    )
    .command(runtimeModule.command, runtimeModule.describe, (y) => runtimeModule.subcommands.reduce(mount, y).demandCommand(1, 'name a runtime subcommand: fetch or list'))
    .command(persistModule.command, persistModule.describe, (y) =>
      persistModule.subcommands.reduce(mount, y).demandCommand(1, 'name a persist subcommand: status or stop'),
    );
  parser = mount(parser, persistDaemonModule);
  parser = mount(parser, completionModule);
  // The scripts of `herd completion` call `herd --get-yargs-completions WORDS…`: yargs answers with
  // commands, flags and choices, we with hosts, groups and job ids where they go.
  const complete: FallbackCompletion = (current, _argv, yargsCompletion, done) => {
    const at = argv.indexOf('--get-yargs-completions');
    const words = at < 0 ? [] : argv.slice(at + 2);
    const ours = completeWords(words, completionData(words));
    if (ours !== null) return void done(ours);
    // yargs offers a one-letter alias as --H; the short form is -H.
    yargsCompletion((_err, list) => done((list ?? []).map((c) => (/^--[A-Za-z]$/.test(c) ? c.slice(1) : c)).filter((c) => c.startsWith(current))));
  };
  parser = parser.completion('__yargs-completion', false, complete);
  skipHelpCache(parser);
  return parser
    .demandCommand(1, 'name a command: run, job, hosts, host, network, cert, ca, audit, runtime, persist, completion (see herd --help)')
    .example('$0 run -- uname -a', 'a first job, local and isolated')
    .example('$0 run -H web1,web2 -- uptime', 'on two hosts from the config')
    .example('$0 run -H web1 --detach -- ./long-task', 'start it and come back later: herd job logs -f ID')
    .example('$0 cert issue alice --role user --out alice.yml', 'an identity for someone else')
    .epilog(
      'Environment: HERD_CONFIG (config file), HERD_STATE_DIR (state directory of local runs), SSH_AUTH_SOCK (ssh-agent), XDG_RUNTIME_DIR (the --persist socket), NO_COLOR.\nExit status and error codes: docs/exit-codes.md. Documentation: README.md and docs/.',
    )
    .strict()
    .version(VERSION)
    .alias('version', 'V')
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((message, err, y) => {
      if (err !== undefined && err !== null) throw err;
      // The third argument is yargs' usage object: its descriptions are keyed by the command's option names.
      const usage = y as unknown as { getDescriptions?: () => Record<string, unknown> };
      const options = Object.keys(usage.getDescriptions?.() ?? {});
      throw usageError(message, argv, COMMANDS, options);
    });
}

/**
 * yargs 17 renders the whole help of the command being run right after starting its handler, to
 * have it ready should the handler fail; for `run` that took 30 ms of string-width arithmetic,
 * blocking the connections the handler had just begun. Our failures never print help (.fail
 * throws), so the cache is never read: skip making it.
 */
function skipHelpCache(parser: Argv): void {
  type Internals = { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } };
  const usage = (parser as unknown as Internals).getInternalMethods?.().getUsageInstance?.();
  if (usage?.cacheHelpMessage !== undefined) usage.cacheHelpMessage = () => {};
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
    io.stderr.write(`${errorLine(error)}\n`);
    return error.code === 'INVALID_SPEC' ? EXIT_USAGE : EXIT_HERD_ERROR;
  }
}

// A reader that went away (`herd job logs ID | head`) ends us quietly, as SIGPIPE ends other tools.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(141);
    throw err;
  });
}

const code = await main(hideBin(process.argv));
// Open SSH sockets or a terminal on stdin must not keep us alive once the work is done.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
