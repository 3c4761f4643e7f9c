import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import { resolveCommand } from '../command.ts';
import { bridgeBatch, nftRuleset, planAttach } from './attachPlan.ts';
import { assignable, formatIp, parseIp } from './cidr.ts';
import { Leases } from './leases.ts';
import { BUILTIN_NETWORKS, resolveNetwork, type NetworkSpec } from './network.ts';
import { runBatch } from './run.ts';

const SBIN = '/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin';

/** Interfaces in this process's network namespace (/proc/net is per namespace; /sys may not be). */
function interfaces(): Set<string> {
  const text = readFileSync('/proc/net/dev', 'utf8');
  return new Set(text.split('\n').slice(2).map((line) => line.split(':')[0]!.trim()).filter(Boolean));
}

/** A job's place in a network: its address, and how to undo phase 1 and 2. */
export interface JobNetwork {
  spec: NetworkSpec;
  ip: string;
  /** Phase 2, with the job's init pid: veth, address, routes, bandwidth. */
  attach(initPid: number): Promise<void>;
  release(): void;
}

/** Networks on one host: their bridges, NAT rules, address leases and jobs' interfaces. */
export class NetworkManager {
  private readonly dir: string;
  private readonly ensured = new Set<string>();
  private tools: { ip: string; nsenter: string; nft: string; tc: string } | undefined;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'networks');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private tool(name: 'ip' | 'nsenter' | 'nft' | 'tc'): string {
    this.tools ??= { ip: '', nsenter: '', nft: '', tc: '' };
    if (this.tools[name] === '') {
      try {
        this.tools[name] = resolveCommand(name, SBIN);
      } catch {
        const pkg = { ip: 'iproute2', nsenter: 'util-linux', nft: 'nftables', tc: 'iproute2' }[name];
        throw new HerdError('NETWORK', `${name}(8) is not installed on this host; job networks need it (install ${pkg}), or use --network none`);
      }
    }
    return this.tools[name];
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

  leases(spec: NetworkSpec): Leases {
    return new Leases(join(this.dir, spec.name));
  }

  /** The bridge, forwarding and herd's nftables table, made once per network and agent. */
  async ensure(spec: NetworkSpec): Promise<void> {
    if (this.ensured.has(spec.name) && interfaces().has(spec.bridge)) return;
    const network = resolveNetwork(spec);
    if (!interfaces().has(spec.bridge)) await runBatch(`network ${spec.name}: bridge`, [this.tool('ip'), '-batch', '-'], `${bridgeBatch(spec, network).join('\n')}\n`);
    // Forwarding is a setting of this network namespace (per namespace in /proc/sys/net).
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    await this.applyRules();
    this.ensured.add(spec.name);
  }

  /** Rewrites herd's nftables table for the networks whose bridges exist, in one transaction. */
  async applyRules(): Promise<void> {
    const present = interfaces();
    const active = this.all().filter((n) => present.has(n.bridge));
    await runBatch('network rules', [this.tool('nft'), '-f', '-'], nftRuleset(active));
  }

  /** Phase 1: a lease on an address, before the job starts. */
  async join(name: string, jobId: string, wantedIp: string | undefined, bandwidthBps: number | undefined): Promise<JobNetwork> {
    const spec = this.find(name);
    const network = resolveNetwork(spec);
    let wanted: number | undefined;
    if (wantedIp !== undefined) {
      wanted = parseIp(wantedIp, '--ip');
      if (!assignable(network.cidr, network.gateway, wanted)) {
        throw new HerdError('INVALID_SPEC', `--ip ${wantedIp}: not an address a job may have in ${spec.name} (${spec.cidr}; not the network, gateway or broadcast address)`);
      }
    }
    await this.ensure(spec);
    const leases = this.leases(spec);
    const ip = leases.allocate(network, jobId, wanted);
    let attachedVeth: string | null = null;
    return {
      spec,
      ip: formatIp(ip),
      attach: async (initPid) => {
        const plan = planAttach(spec, network, ip, jobId, initPid, bandwidthBps);
        try {
          await runBatch('veth', [this.tool('ip'), '-batch', '-'], `${plan.host.join('\n')}\n`);
          attachedVeth = plan.veth;
          await runBatch('address', [this.tool('nsenter'), `--net=/proc/${initPid}/ns/net`, this.tool('ip'), '-batch', '-'], `${plan.job.join('\n')}\n`);
          if (plan.tc.host.length > 0) {
            await runBatch('bandwidth', [this.tool('tc'), '-batch', '-'], `${plan.tc.host.join('\n')}\n`);
            await runBatch('bandwidth', [this.tool('nsenter'), `--net=/proc/${initPid}/ns/net`, this.tool('tc'), '-batch', '-'], `${plan.tc.job.join('\n')}\n`);
          }
        } catch (err) {
          // Roll back: the interface (the lease goes with release()).
          if (attachedVeth !== null) await runBatch('rollback', [this.tool('ip'), 'link', 'del', attachedVeth], '').catch(() => {});
          throw err;
        }
      },
      release: () => {
        // The kernel removes the veth with the job's network namespace, but asynchronously (and
        // slowly under load); deleting the host end now makes "gone after the job" hold at once.
        const veth = attachedVeth;
        if (veth === null) {
          leases.release(ip);
          return;
        }
        void runBatch('release', [this.tool('ip'), 'link', 'del', veth], '')
          .catch(() => {})
          .finally(() => leases.release(ip));
      },
    };
  }
}
