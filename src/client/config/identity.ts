import { parseCert } from '../../protocol/cert.ts';
import type { ClientIdentity } from '../../protocol/handshake.ts';
import { clientIdentity, createIdentity, type LoadedConfig } from './config.ts';
import { expiryNotice } from './lifetimes.ts';

/**
 * The caller's identity from the config; on first use, a new CA and admin certificate are written
 * there. A certificate near its end (or past it) is said to be so, with what to do.
 */
export function ensureIdentity(loaded: LoadedConfig, notice: (line: string) => void): ClientIdentity {
  let identity = loaded.config.identity;
  if (identity === undefined) {
    identity = createIdentity(loaded, Math.floor(Date.now() / 1000));
    notice(`herd: created a new CA and an admin certificate in ${loaded.path} (keep this file private; it is your identity)`);
  }
  const client = clientIdentity(identity, loaded.path);
  const warning = expiryNotice(parseCert(client.cert).body, client.caSecretKey !== undefined, Math.floor(Date.now() / 1000));
  if (warning !== null) notice(warning);
  return client;
}
