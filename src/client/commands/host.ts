import { revocationsVersion } from '../../protocol/revocations.ts';
import { jsonDocument } from '../output/jsonDocument.ts';
import { eachHost } from '../connection/hostRequests.ts';
import { EXIT_HERD_ERROR } from '../output/outcome.ts';
import { errorLine } from '../output/render.ts';
import { commandContext } from './context.ts';
import { trustCommand } from './hostTrust.ts';
import { hostListCommand } from './hostList.ts';
import { globalOptions, type CommandModule, type CommandResult } from './types.ts';

/**
 * `herd host sync`: connects to each host and does nothing else. The handshake hands the host this
 * config's revocation list, which it keeps when newer than its own.
 */
const sync: CommandModule = {
  command: 'sync',
  describe: 'give the hosts this config\'s revocation list now (each keeps the newest it has seen)',
  builder: (y) =>
    y
      .option('accept-new', { type: 'boolean', default: false, describe: 'record the host key of hosts not yet in known_hosts' })
      .example('$0 host sync -H @all', 'after herd cert revoke: every host refuses the certificate from now on'),
  handler: async (argv, io): Promise<CommandResult> => {
    const options = globalOptions(argv);
    const context = commandContext({ ...options, acceptNew: argv.acceptNew === true }, (line) => io.stderr.write(`${line}\n`));
    const { identity } = context.connect;
    const version = identity.revocations === undefined ? null : revocationsVersion(identity.revocations);
    const answers = await eachHost(context, async () => version);
    if (options.json) io.stdout.write(jsonDocument('host-sync', { version, hosts: answers.map((a) => ({ host: a.host, synced: a.error === null, error: a.error?.toJSON() ?? null })) }));
    else {
      for (const answer of answers) {
        if (answer.error !== null) io.stderr.write(`${errorLine(answer.error)}\n`);
        else io.stdout.write(`${answer.host}: ${version === null ? 'no revocation list in this config' : `revocation list version ${version} or newer`}\n`);
      }
    }
    return { exitCode: answers.some((a) => a.error !== null) ? EXIT_HERD_ERROR : 0 };
  },
};

export const hostModule = {
  command: 'host',
  describe: 'the hosts\' side of identity: sync, trust, list',
  subcommands: [sync, trustCommand, hostListCommand] satisfies CommandModule[],
};
