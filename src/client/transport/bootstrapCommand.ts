import BOOTSTRAP from '../../remote/bootstrap.sh' with { type: 'text' };
import SUPERVISOR from '../../remote/supervisor.sh' with { type: 'text' };
import { shellQuote } from '../../shared/shellQuote.ts';
import type { HelperAsset } from '../buildInfo.ts';
import { SUDO_PROMPT, type Become } from './become.ts';

/** --ship-runtime: ship Bun to hosts without a JavaScript runtime (auto), to every host (always), or never. */
export const SHIP_RUNTIME = ['auto', 'always', 'never'] as const;
export type ShipRuntime = (typeof SHIP_RUNTIME)[number];

/** The remote command line that runs bootstrap.sh for this helper (hash and size as its arguments; the host's default state directory). */
export function bootstrapCommand(helper: Pick<HelperAsset, 'sha256' | 'size'>, become?: Become, ship: ShipRuntime = 'auto'): string {
  const boot = ['sh', '-c', shellQuote(BOOTSTRAP), 'herd-bootstrap', helper.sha256, String(helper.size), "''", ship, shellQuote(SUPERVISOR)];
  if (become === undefined) return boot.join(' ');
  // -n: never wait for a password nobody will type; -S -p: read it from the channel, after our prompt.
  const sudo = become.askPassword ? ['sudo', '-S', '-p', SUDO_PROMPT] : ['sudo', '-n'];
  return [...sudo, '-H', '-u', shellQuote(become.user), '--', ...boot].join(' ');
}
