import { HerdError } from '../../protocol/errors.ts';
import { completionScript, SHELLS, type Shell } from '../completion/scripts.ts';
import type { CommandModule } from './types.ts';

/** `herd completion bash|zsh|fish`: the script that makes the shell complete herd's commands, flags, hosts, groups and job ids. */
export const completionModule: CommandModule = {
  command: 'completion <shell>',
  describe: 'print the shell completion script: commands, flags, host names and groups, job ids',
  builder: (y) =>
    y
      .positional('shell', { type: 'string', describe: SHELLS.join(', ') })
      .example('source <($0 completion bash)', 'complete herd in this bash')
      .example('$0 completion zsh > ~/.zfunc/_herd', 'for zsh (with ~/.zfunc in $fpath)')
      .example('$0 completion fish > ~/.config/fish/completions/herd.fish', 'for fish'),
  handler: (argv, io) => {
    const shell = String(argv.shell);
    if (!(SHELLS as readonly string[]).includes(shell)) throw new HerdError('INVALID_SPEC', `completion: "${shell}" is not one of ${SHELLS.join(', ')}`);
    io.stdout.write(completionScript(shell as Shell));
    return { exitCode: 0 };
  },
};
