import { fail, str, stringArray, type Shape, type Validators } from './check.ts';

/** What a user asks for when creating a network. */
export interface NetworkRequest {
  name: string;
  cidr: string;
  gateway?: string;
  range?: { start: string; end: string };
  dns?: string[];
}
/** A network as the host reports it. */
export interface NetworkInfo {
  name: string;
  cidr: string;
  gateway: string;
  range: { start: string; end: string };
  dns: string[];
  bridge: string;
  isolated: boolean;
  builtin: boolean;
  jobs: number;
}
export interface NetworkCreate { t: 'network-create'; network: NetworkRequest }
export interface NetworkList { t: 'network-list' }
export interface NetworkRemove { t: 'network-remove'; name: string }
export interface Networks { t: 'networks'; networks: NetworkInfo[] }

export type NetworkMessage = NetworkCreate | NetworkList | NetworkRemove | Networks;

export const NETWORK_VALIDATORS: Validators<NetworkMessage> = {
  'network-create'(o) {
    const n = o.network as Shape;
    if (typeof n !== 'object' || n === null) fail('network-create.network');
    str(n, 'name');
    str(n, 'cidr');
    str(n, 'gateway', true);
    if (n.range !== undefined) {
      const r = n.range as Shape;
      if (typeof r !== 'object' || r === null || typeof r.start !== 'string' || typeof r.end !== 'string') fail('network-create.network.range');
    }
    if (n.dns !== undefined) stringArray(n, 'dns', 16);
  },
  'network-list'() {},
  'network-remove': (o) => str(o, 'name'),
  networks(o) {
    if (!Array.isArray(o.networks) || o.networks.length > 4096) fail('networks.networks');
  },
};
