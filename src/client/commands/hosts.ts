import { loadConfig } from '../config/config.ts';
import { formatTable } from '../output/table.ts';
import { targetsOf } from './context.ts';
import { globalOptions, type CommandModule } from './types.ts';

/** `herd hosts -H EXPR`: what an expression stands for, and how each host would be reached. */
export const hostsModule: CommandModule = {
  command: 'hosts',
  describe: 'show the hosts -H (with -x, -i) resolves to, and how each is reached',
  builder: (y) =>
    y
      .example('$0 hosts -H "web[01-20],@db" -x web07', 'a nodeset, a group, one host left out')
      .example('$0 hosts -i inventory.ini -H @webservers --json', 'a group of an Ansible inventory'),
  handler: (argv, io) => {
    const options = globalOptions(argv);
    const targets = targetsOf(options, loadConfig(options.config));
    if (options.json) {
      io.stdout.write(`${JSON.stringify({ hosts: targets }, null, 2)}\n`);
      return { exitCode: 0 };
    }
    const rows = targets.map((t) => (t.kind === 'local' ? [t.name, '(this machine)', '', ''] : [t.name, t.address, String(t.port), t.user]));
    io.stdout.write(formatTable(['NAME', 'ADDRESS', 'PORT', 'USER'], rows));
    io.stderr.write(`herd: ${targets.length} host${targets.length === 1 ? '' : 's'}\n`);
    return { exitCode: 0 };
  },
};
