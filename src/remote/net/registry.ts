import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import type { NetworkRequest } from '../../protocol/messages.ts';
import { formatCidr, formatIp, overlaps, parseCidr, type Cidr } from './cidr.ts';
import { Leases } from './leases.ts';
import { BUILTIN_NETWORKS, bridgeName, resolveNetwork, validateNetworkName, type NetworkSpec } from './network.ts';

/**
 * The networks of one host as stored: the built-in ones, and one `<name>.json` per network made
 * with herd network create beside a `<name>/` directory for its leases, hosts and resolv.conf.
 * No kernel state: the bridges and rules are NetworkManager's.
 */
export class NetworkRegistry {
  readonly dir: string;

  constructor(networksDir: string) {
    this.dir = networksDir;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  all(): NetworkSpec[] {
    const named = existsSync(this.dir)
      ? readdirSync(this.dir)
          .filter((f) => f.endsWith('.json'))
          .map((f) => JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as NetworkSpec)
      : [];
    return [...BUILTIN_NETWORKS, ...named];
  }

  find(name: string): NetworkSpec {
    const spec = this.all().find((n) => n.name === name);
    if (spec === undefined) {
      throw new HerdError('NETWORK', `no network "${name}" on this host`, { hint: `create it with: herd network create ${name} --cidr CIDR` });
    }
    return spec;
  }

  /** The network's own directory (leases, hosts, resolv.conf). */
  dirOf(spec: NetworkSpec): string {
    return join(this.dir, spec.name);
  }

  leases(spec: NetworkSpec): Leases {
    return new Leases(this.dirOf(spec));
  }

  /** Whether any address of the network was ever leased (its leases directory exists). */
  hasLeases(spec: NetworkSpec): boolean {
    return existsSync(join(this.dirOf(spec), 'leases'));
  }

  /** Jobs holding an address in the network now. */
  jobCount(spec: NetworkSpec): number {
    return this.hasLeases(spec) ? this.leases(spec).all().size : 0;
  }

  /**
   * Records a new network, checked against herd's others and `routes` (the host's, which it must
   * not overlap except those of herd's own bridges).
   */
  add(request: NetworkRequest, routes: ReadonlyArray<Cidr & { device: string }>): NetworkSpec {
    validateNetworkName(request.name);
    const cidr = parseCidr(request.cidr, '--cidr');
    const spec: NetworkSpec = {
      name: request.name,
      cidr: formatCidr(cidr),
      gateway: request.gateway ?? formatIp(cidr.base + 1),
      ...(request.range === undefined ? {} : { range: request.range }),
      dns: request.dns ?? [],
      bridge: bridgeName(request.name),
      isolated: false,
      builtin: false,
    };
    resolveNetwork(spec);
    const others = this.all();
    for (const other of others) {
      if (other.name === spec.name) throw new HerdError('NETWORK', `network ${spec.name} already exists on this host`);
      if (overlaps(cidr, parseCidr(other.cidr, 'cidr'))) throw new HerdError('NETWORK', `--cidr ${spec.cidr} overlaps herd network ${other.name} (${other.cidr})`);
    }
    const herdBridges = new Set(others.map((n) => n.bridge));
    for (const route of routes) {
      if (route.prefix > 0 && !herdBridges.has(route.device) && overlaps(cidr, route)) {
        throw new HerdError('NETWORK', `--cidr ${spec.cidr} overlaps a route of this host: ${formatCidr(route)} dev ${route.device}`);
      }
    }
    mkdirSync(this.dirOf(spec), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(join(this.dir, `${spec.name}.json`), `${JSON.stringify(spec, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
    } catch {
      throw new HerdError('NETWORK', `network ${spec.name} already exists on this host`);
    }
    return spec;
  }

  /** Forgets a network made with herd network create, with its leases and files. */
  delete(spec: NetworkSpec): void {
    if (spec.builtin) throw new HerdError('NETWORK', `network ${spec.name} is built in and cannot be removed`);
    rmSync(join(this.dir, `${spec.name}.json`), { force: true });
    rmSync(this.dirOf(spec), { recursive: true, force: true });
  }
}
