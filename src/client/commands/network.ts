import { HerdError } from '../../protocol/errors.ts';
import { jsonDocument } from '../output/jsonDocument.ts';
import type { Message, NetworkInfo, NetworkRequest } from '../../protocol/messages.ts';
import { commandContext } from './context.ts';
import { eachHost, type HostAnswer } from '../connection/hostRequests.ts';
import { EXIT_HERD_ERROR } from '../output/outcome.ts';
import { errorLine } from '../output/render.ts';
import { globalOptions, type Args, type CommandModule, type CommandResult, type Io } from './types.ts';

type NetworksAnswer = HostAnswer<NetworkInfo[]>;

/** Sends one request to every host (in parallel) and collects each host's networks. */
function askHosts(argv: Args, io: Io, message: Message): Promise<NetworksAnswer[]> {
  const context = commandContext({ ...globalOptions(argv), acceptNew: argv.acceptNew === true }, (line) => io.stderr.write(`${line}\n`));
  return eachHost(context, async (connection) => {
    const reply = await connection.request(message);
    return reply.t === 'networks' ? reply.networks : [];
  });
}

function report(answers: NetworksAnswer[], io: Io, json: boolean, human: (answer: NetworksAnswer) => string): CommandResult {
  if (json) {
    io.stdout.write(jsonDocument('network-list', { hosts: answers.map((a) => ({ host: a.host, networks: a.value, error: a.error?.toJSON() ?? null })) }));
  } else {
    for (const answer of answers) {
      if (answer.error !== null) io.stderr.write(`${errorLine(answer.error)}\n`);
      else io.stdout.write(human(answer));
    }
  }
  return { exitCode: answers.some((a) => a.error !== null) ? EXIT_HERD_ERROR : 0 };
}

function table(answer: NetworksAnswer, many: boolean): string {
  const rows = (answer.value ?? []).map((n) => [n.name, n.cidr, n.gateway, `${n.range.start}-${n.range.end}`, n.dns.join(',') || '-', String(n.jobs), n.isolated ? 'isolated' : n.builtin ? 'built in' : '']);
  const header = ['NAME', 'CIDR', 'GATEWAY', 'RANGE', 'DNS', 'JOBS', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `${many ? `${answer.host}: ` : ''}${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`;
  return [header, ...rows].map(line).join('');
}

const create: CommandModule = {
  command: 'create <name>',
  describe: 'create a network on each host: its own bridge and CIDR, NAT to the outside',
  builder: (y) =>
    y
      .positional('name', { type: 'string', describe: '1-12 characters of a-z, 0-9 and -', demandOption: true })
      .option('cidr', { type: 'string', demandOption: true, describe: 'the network, e.g. 10.30.0.0/24 (must not overlap other networks or host routes)' })
      .option('gateway', { type: 'string', describe: 'the host\'s address in it (default: the first)' })
      .option('ip-range', { type: 'string', describe: 'addresses handed to jobs, START-END (default: all)' })
      .option('dns', { type: 'string', describe: 'name servers for its jobs, comma-separated (default: the host\'s)' })
      .option('accept-new', { type: 'boolean', default: false, describe: 'record the host key of hosts not yet in known_hosts' })
      .example('$0 network create backend --cidr 10.30.0.0/24 -H web1,web2', 'one network on two hosts'),
  handler: async (argv, io) => {
    const request: NetworkRequest = { name: String(argv.name), cidr: String(argv.cidr) };
    if (typeof argv.gateway === 'string') request.gateway = argv.gateway;
    if (typeof argv.ipRange === 'string') {
      const [start, end] = argv.ipRange.split('-');
      if (start === undefined || end === undefined) throw new HerdError('INVALID_SPEC', `--ip-range: "${argv.ipRange}" is not START-END`);
      request.range = { start, end };
    }
    if (typeof argv.dns === 'string') request.dns = argv.dns.split(',').map((s) => s.trim()).filter(Boolean);
    const answers = await askHosts(argv, io, { t: 'network-create', network: request });
    return report(answers, io, argv.json === true, (a) => `${answers.length > 1 ? `${a.host}: ` : ''}created network ${request.name} (${a.value?.[0]?.cidr})\n`);
  },
};

const list: CommandModule = {
  command: 'list',
  describe: 'list the networks of each host, with how many jobs use them',
  builder: (y) => y,
  handler: async (argv, io) => {
    const answers = await askHosts(argv, io, { t: 'network-list' });
    return report(answers, io, argv.json === true, (a) => table(a, answers.length > 1));
  },
};

const remove: CommandModule = {
  command: 'remove <name>',
  describe: 'remove a network (refused while jobs use it): its bridge and rules',
  builder: (y) => y.positional('name', { type: 'string', demandOption: true, describe: 'the network' }),
  handler: async (argv, io) => {
    const answers = await askHosts(argv, io, { t: 'network-remove', name: String(argv.name) });
    return report(answers, io, argv.json === true, (a) => `${answers.length > 1 ? `${a.host}: ` : ''}removed network ${String(argv.name)}\n`);
  },
};

export const networkModule = { command: 'network', describe: 'job networks: create, list, remove', subcommands: [create, list, remove] };
