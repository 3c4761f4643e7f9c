import { loadConfig } from '../config/config.ts';
import { jsonDocument } from '../output/jsonDocument.ts';
import { ensureIdentity } from '../config/identity.ts';
import { formatTable } from '../output/table.ts';
import { listedCerts } from './cert.ts';
import { globalOptions, type CommandModule } from './types.ts';

/** `herd host list`: the host certificates this config's CA signed (from its record), newest per host last. */
export const hostListCommand: CommandModule = {
  command: 'list',
  describe: 'the hosts this config\'s CA enrolled, from its record: name dialled, certificate subject, CA, expiry',
  builder: (y) => y.example('$0 host list --json', 'each host certificate signed, with its status'),
  handler: (argv, io) => {
    const options = globalOptions(argv);
    const loaded = loadConfig(options.config);
    const identity = ensureIdentity(loaded, (line) => io.stderr.write(`${line}\n`));
    const { certs, path } = listedCerts(loaded, identity, true);
    const hosts = certs.filter((c) => c.role === 'host');
    if (options.json) {
      io.stdout.write(jsonDocument('host-list', { record: path, hosts }));
      return { exitCode: 0 };
    }
    if (hosts.length === 0) {
      io.stderr.write(`herd: no host certificates on record in ${path} (an admin config records each host it enrols)\n`);
      return { exitCode: 0 };
    }
    const rows = hosts.map((h) => [h.dialled ?? '-', h.subject, h.ca, h.notAfter?.slice(0, 10) ?? '-', h.status, h.serial || '-']);
    io.stdout.write(formatTable(['HOST', 'SUBJECT', 'CA', 'EXPIRES', 'STATUS', 'SERIAL'], rows));
    return { exitCode: 0 };
  },
};
