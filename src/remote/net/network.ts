import { HerdError } from '../../protocol/errors.ts';
import { assignable, broadcast, contains, parseCidr, parseIp, type Cidr } from './cidr.ts';
import { isNetworkName } from '../../protocol/networkName.ts';

/** A network jobs can join: a bridge on the host with its own CIDR, NAT to the outside. */
export interface NetworkSpec {
  name: string;
  cidr: string;
  gateway: string;
  /** Addresses handed out, inclusive; the whole network when absent. */
  range?: { start: string; end: string };
  /** Name servers for the jobs' resolv.conf; empty: the host's. */
  dns: string[];
  bridge: string;
  /** Jobs cannot reach each other (bridge ports isolated), only the outside. */
  isolated: boolean;
  builtin: boolean;
}

export const BUILTIN_NETWORKS: readonly NetworkSpec[] = [
  { name: 'bridge', cidr: '172.20.0.0/16', gateway: '172.20.0.1', dns: [], bridge: 'herd0', isolated: false, builtin: true },
  { name: 'isolated', cidr: '172.21.0.0/16', gateway: '172.21.0.1', dns: [], bridge: 'herd-iso', isolated: true, builtin: true },
];

/** Network modes that are not networks. */
export const SPECIAL_MODES = ['none', 'host'] as const;

/** Bridge device of a named network: "hn-" and the name, within the kernel's 15 characters. */
export function bridgeName(name: string): string {
  return `hn-${name}`;
}

export interface Resolved {
  cidr: Cidr;
  gateway: number;
  first: number;
  last: number;
}

/** Parses and checks a network's addresses; every error names the option at fault. */
export function resolveNetwork(spec: NetworkSpec): Resolved {
  const cidr = parseCidr(spec.cidr, '--cidr');
  const gateway = parseIp(spec.gateway, '--gateway');
  if (!contains(cidr, gateway) || gateway === cidr.base || gateway === broadcast(cidr)) {
    throw new HerdError('INVALID_SPEC', `--gateway ${spec.gateway}: not a host address of ${spec.cidr}`);
  }
  let first = cidr.base + 1;
  let last = broadcast(cidr) - 1;
  if (spec.range !== undefined) {
    first = parseIp(spec.range.start, '--ip-range');
    last = parseIp(spec.range.end, '--ip-range');
    if (first > last || !assignable(cidr, -1, first) || !assignable(cidr, -1, last)) {
      throw new HerdError('INVALID_SPEC', `--ip-range ${spec.range.start}-${spec.range.end}: must be an ascending range of host addresses inside ${spec.cidr}`);
    }
  }
  for (const server of spec.dns) parseIp(server, '--dns');
  return { cidr, gateway, first, last };
}

export function validateNetworkName(name: string): void {
  if (!isNetworkName(name)) {
    throw new HerdError('INVALID_SPEC', `network name "${name}": 1-12 characters of a-z, 0-9 and -, starting with a letter or digit`);
  }
  if ((SPECIAL_MODES as readonly string[]).includes(name) || BUILTIN_NETWORKS.some((n) => n.name === name)) {
    throw new HerdError('INVALID_SPEC', `network name "${name}" is reserved`);
  }
}

/** A resolv.conf naming these servers. */
export function resolvConf(servers: readonly string[]): string {
  return servers.map((server) => `nameserver ${server}\n`).join('');
}
