/**
 * A network's name as both sides check it (--network, herd network create): 1-12 lowercase letters,
 * digits and dashes, starting with a letter or digit, so "hn-" and the name fit a bridge device
 * name (15 characters). none, host, bridge and isolated are names too, of the built-in modes.
 */
const NETWORK_NAME = /^[a-z0-9][a-z0-9-]{0,11}$/;

export function isNetworkName(name: string): boolean {
  return NETWORK_NAME.test(name);
}
