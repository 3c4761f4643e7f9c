import { HerdError } from '../../protocol/errors.ts';
import type { CertBody } from '../../protocol/cert.ts';
import { formatDuration } from '../units/durations.ts';

/**
 * The longest a certificate herd issues may live (people's and the first admin's alike): a leaked
 * key is good for at most this long. Longer lives come from renewing (herd cert renew).
 */
export const MAX_CERT_TTL_SECONDS = 90 * 24 * 3600;

/** Within this of its end, every command says the caller's own certificate is running out. */
export const EXPIRY_WARNING_SECONDS = 7 * 24 * 3600;

/** A --ttl as seconds, refused when shorter than a minute or longer than MAX_CERT_TTL_SECONDS. */
export function checkTtl(ttlMs: number, text: string): number {
  const seconds = Math.floor(ttlMs / 1000);
  if (seconds < 60) throw new HerdError('INVALID_SPEC', `--ttl: "${text}" is shorter than a minute`);
  if (seconds > MAX_CERT_TTL_SECONDS) {
    throw new HerdError('INVALID_SPEC', `--ttl: "${text}" is longer than the ${MAX_CERT_TTL_SECONDS / 86400}-day maximum`, {
      hint: 'issue a shorter one and renew it before it ends (herd cert renew, or herd cert issue again)',
    });
  }
  return seconds;
}

/** What to tell the holder of `body` when it ends within EXPIRY_WARNING_SECONDS (or has ended); else null. */
export function expiryNotice(body: Pick<CertBody, 'subject' | 'role' | 'notAfter'>, holdsCa: boolean, nowSeconds: number): string | null {
  const left = body.notAfter - nowSeconds;
  if (left > EXPIRY_WARNING_SECONDS) return null;
  const when = new Date(body.notAfter * 1000).toISOString();
  const what = `herd: your certificate (${body.subject}, ${body.role}) ${left > 0 ? `expires in ${formatDuration(left * 1000)}, at ${when}` : `expired at ${when}; hosts refuse it`}`;
  return `${what}; ${holdsCa ? 'renew it: herd cert renew' : `ask an admin for a new one: herd cert issue ${body.subject} --role ${body.role}`}`;
}
