import BOOTSTRAP from '../../remote/bootstrap.sh' with { type: 'text' };
import { shellQuote } from '../../shared/shellQuote.ts';
import type { HelperAsset } from '../buildInfo.ts';

/** The remote command line that runs bootstrap.sh for this helper (hash and size as its arguments). */
export function bootstrapCommand(helper: Pick<HelperAsset, 'sha256' | 'size'>): string {
  return ['sh', '-c', shellQuote(BOOTSTRAP), 'herd-bootstrap', helper.sha256, String(helper.size)].join(' ');
}
