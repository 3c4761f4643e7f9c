import { fail, str, type Validators } from './check.ts';
import { MAX_TRUSTED_CAS } from '../limits.ts';

/** One CA a host trusts, as `herd host trust --list` shows it. */
export interface TrustInfo {
  /** Key id of the CA. */
  ca: string;
  /** When the host began to trust it (ISO 8601). */
  since: string;
  /** The host certificate it signed for this host: its subject, serial and end; null when none. */
  hostCert: { subject: string; serial: string; notAfter: string } | null;
  /** The version of its revocation list the host holds (0: none). */
  revocations: number;
  /** The CA of the certificate this connection authenticated with. */
  yours: boolean;
}
export interface TrustList { t: 'trust-list' }
export interface TrustRemove { t: 'trust-remove'; ca: string }
export interface Trust { t: 'trust'; cas: TrustInfo[] }

export type TrustMessage = TrustList | TrustRemove | Trust;

export const TRUST_VALIDATORS: Validators<TrustMessage> = {
  'trust-list'() {},
  'trust-remove': (o) => str(o, 'ca'),
  trust(o) {
    if (!Array.isArray(o.cas) || o.cas.length > MAX_TRUSTED_CAS) fail('trust.cas');
  },
};
