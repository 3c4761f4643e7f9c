import { keyId } from '../../protocol/cert.ts';
import { jsonDocument } from '../output/jsonDocument.ts';
import { HerdError } from '../../protocol/errors.ts';
import type { Message, TrustInfo } from '../../protocol/messages.ts';
import { eachHost, type HostAnswer } from '../connection/hostRequests.ts';
import { EXIT_HERD_ERROR } from '../output/outcome.ts';
import { errorLine } from '../output/render.ts';
import { formatTable } from '../output/table.ts';
import { commandContext } from './context.ts';
import { globalOptions, type Args, type CommandModule, type CommandResult, type Io } from './types.ts';

/** What `herd host trust` did on one host, and the CAs it trusts afterwards. */
export interface TrustOutcome {
  /** add: our CA was added now; kept: it was trusted already; removed; listed. */
  did: 'added' | 'kept' | 'removed' | 'listed';
  cas: TrustInfo[];
}

const KEY_ID = /^[0-9a-f]{16}$/;

/**
 * On every host: add this config's CA (the default), list the CAs, or remove one. Adding goes in
 * the handshake itself (the host does not trust us yet); the host allows it to its herd state's
 * owner only, who is whoever its SSH login is (the state directory is theirs alone).
 */
export async function hostTrust(argv: Args, io: Io, options: { list: boolean; remove: string | null; quiet?: boolean }): Promise<{ result: CommandResult; answers: Array<HostAnswer<TrustOutcome>> }> {
  if (options.remove !== null && !KEY_ID.test(options.remove)) throw new HerdError('INVALID_SPEC', `--remove: "${options.remove}" is not a CA key id (16 hex digits, see herd host trust --list)`);
  if (options.list && options.remove !== null) throw new HerdError('INVALID_SPEC', '--list and --remove: choose one');
  const adding = !options.list && options.remove === null;
  const global = globalOptions(argv);
  const context = commandContext({ ...global, acceptNew: argv.acceptNew === true }, (line) => io.stderr.write(`${line}\n`));
  const connect = adding ? { ...context.connect, addCa: true } : context.connect;
  const answers = await eachHost({ ...context, connect }, async (connection): Promise<TrustOutcome> => {
    const request: Message = options.remove === null ? { t: 'trust-list' } : { t: 'trust-remove', ca: options.remove };
    const reply = await connection.request(request);
    const cas = reply.t === 'trust' ? reply.cas : [];
    const did = options.remove !== null ? 'removed' : options.list ? 'listed' : connection.enrolledNow ? 'added' : 'kept';
    return { did, cas };
  });
  const ours = keyId(context.connect.identity.caKey);
  if (global.json) {
    if (options.quiet !== true) io.stdout.write(jsonDocument('host-trust', { ca: ours, hosts: answers.map((a) => ({ host: a.host, did: a.value?.did ?? null, cas: a.value?.cas ?? null, error: a.error?.toJSON() ?? null })) }));
  } else {
    const rows: string[][] = [];
    for (const answer of answers) {
      if (answer.error !== null) {
        io.stderr.write(`${errorLine(answer.error)}\n`);
        continue;
      }
      const { did, cas } = answer.value!;
      if (did === 'added') io.stderr.write(`${answer.host}: now trusts CA ${ours} (this config's)\n`);
      if (did === 'kept') io.stderr.write(`${answer.host}: trusts CA ${ours} already\n`);
      if (did === 'removed') io.stderr.write(`${answer.host}: no longer trusts CA ${options.remove}\n`);
      if (options.list) {
        for (const ca of cas) {
          rows.push([answer.host, ca.ca, ca.since.slice(0, 10), ca.hostCert?.subject ?? '-', ca.hostCert?.notAfter.slice(0, 10) ?? '-', String(ca.revocations), ca.yours ? 'yes' : '']);
        }
      }
    }
    if (options.list && options.quiet !== true) io.stdout.write(formatTable(['HOST', 'CA', 'SINCE', 'HOST CERT', 'EXPIRES', 'REVOCATIONS', 'YOURS'], rows));
  }
  return { result: { exitCode: answers.some((a) => a.error !== null) ? EXIT_HERD_ERROR : 0 }, answers };
}

export const trustCommand: CommandModule = {
  command: 'trust',
  describe: 'add this config\'s CA to the hosts (as the owner of their herd state), list their CAs, or remove one',
  builder: (y) =>
    y
      .option('list', { type: 'boolean', default: false, describe: 'show the CAs each host trusts' })
      .option('remove', { type: 'string', describe: 'stop trusting the CA with this key id (not the one you connect with)' })
      .option('accept-new', { type: 'boolean', default: false, describe: 'record the host key of hosts not yet in known_hosts' })
      .example('$0 host trust -H web1', 'web1 trusts someone else\'s CA: add yours (you log in as the owner of its herd state)')
      .example('$0 host trust --list -H @all --json', 'which CAs each host trusts')
      .example('$0 host trust --remove 3f2a9c0d11e84b76 -H @all', 'retire an old CA everywhere'),
  handler: async (argv, io) =>
    (await hostTrust(argv, io, { list: argv.list === true, remove: typeof argv.remove === 'string' ? argv.remove : null })).result,
};
