import type { ClientIdentity } from '../../protocol/handshake.ts';
import { clientIdentity, createIdentity, type LoadedConfig } from './config.ts';

/** The caller's identity from the config; on first use, a new CA and admin certificate are written there. */
export function ensureIdentity(loaded: LoadedConfig, notice: (line: string) => void): ClientIdentity {
  let identity = loaded.config.identity;
  if (identity === undefined) {
    identity = createIdentity(loaded, Math.floor(Date.now() / 1000));
    notice(`herd: created a new CA and an admin certificate in ${loaded.path} (keep this file private; it is your identity)`);
  }
  return clientIdentity(identity, loaded.path);
}
