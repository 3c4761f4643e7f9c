import BOOTSTRAP from '../../remote/bootstrap.sh' with { type: 'text' };
import { shellQuote } from '../../shared/shellQuote.ts';
import type { HelperAsset } from '../buildInfo.ts';
import { SUDO_PROMPT, type Become } from './become.ts';

/** The remote command line that runs bootstrap.sh for this helper (hash and size as its arguments). */
export function bootstrapCommand(helper: Pick<HelperAsset, 'sha256' | 'size'>, become?: Become): string {
  const boot = ['sh', '-c', shellQuote(BOOTSTRAP), 'herd-bootstrap', helper.sha256, String(helper.size)];
  if (become === undefined) return boot.join(' ');
  // -n: never wait for a password nobody will type; -S -p: read it from the channel, after our prompt.
  const sudo = become.askPassword ? ['sudo', '-S', '-p', SUDO_PROMPT] : ['sudo', '-n'];
  return [...sudo, '-H', '-u', shellQuote(become.user), '--', ...boot].join(' ');
}
