import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import { bridgeBatch, IPTABLES_JUMPS, iptablesRestore, nftRuleset, planAttach, vethName } from './attachPlan.ts';
import { assignable, formatIp, parseIp } from './cidr.ts';
import { VethDrain } from './drain.ts';
import { hostRoutes, interfaces } from './hostNet.ts';
import { hostsFile, resolvFile, writeHosts } from './hostsFiles.ts';
import type { Leases } from './leases.ts';
import { NetTools } from './netTools.ts';
import { resolveNetwork, type NetworkSpec } from './network.ts';
import type { NetworkInfo, NetworkRequest } from '../../protocol/messages.ts';
import { NetworkRegistry } from './registry.ts';
import { runBatch } from './run.ts';

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
  readonly registry: NetworkRegistry;
  private readonly ensured = new Set<string>();
  private readonly tools = new NetTools();
  private readonly drain: VethDrain;

  constructor(stateDir: string) {
    this.registry = new NetworkRegistry(join(stateDir, 'networks'));
    this.drain = new VethDrain(
      (entry) => {
        this.leases(entry.spec).release(entry.ip);
        this.writeHosts(entry.spec);
      },
      (veth) => runBatch('release', [this.tools.need('ip'), 'link', 'del', veth], ''),
    );
  }

  all(): NetworkSpec[] {
    return this.registry.all();
  }

  find(name: string): NetworkSpec {
    return this.registry.find(name);
  }

  leases(spec: NetworkSpec): Leases {
    return this.registry.leases(spec);
  }

  hostsFile(spec: NetworkSpec): string {
    return hostsFile(this.registry, spec);
  }

  resolvFile(spec: NetworkSpec): string | undefined {
    return resolvFile(this.registry, spec);
  }

  private writeHosts(spec: NetworkSpec): void {
    writeHosts(this.registry, spec);
  }

  /** The bridge, forwarding and herd's nftables table, made once per network and agent. */
  async ensure(spec: NetworkSpec): Promise<void> {
    if (this.ensured.has(spec.name) && interfaces().has(spec.bridge)) return;
    const network = resolveNetwork(spec);
    if (!interfaces().has(spec.bridge)) await runBatch(`network ${spec.name}: bridge`, [this.tools.need('ip'), '-batch', '-'], `${bridgeBatch(spec, network).join('\n')}\n`);
    // Job networks are IPv4: the bridge takes no IPv6 at all, so no job reaches the host over a
    // link-local address, whatever the firewall (the iptables fallback has no IPv6 rules).
    try {
      writeFileSync(`/proc/sys/net/ipv6/conf/${spec.bridge}/disable_ipv6`, '1');
    } catch {
      // a host without IPv6
    }
    // Forwarding is a setting of this network namespace (per namespace in /proc/sys/net).
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    await this.applyRules();
    this.ensured.add(spec.name);
  }

  /**
   * Rewrites herd's rules for the networks whose bridges exist: its nftables table in one
   * transaction, or where nft is missing its own iptables chains.
   */
  async applyRules(): Promise<void> {
    const present = interfaces();
    const active = this.all().filter((n) => present.has(n.bridge));
    const nft = this.tools.find('nft');
    if (nft !== null) {
      await runBatch('network rules', [nft, '-f', '-'], nftRuleset(active));
      return;
    }
    const restore = this.tools.find('iptables-restore');
    const iptables = this.tools.find('iptables');
    if (restore === null || iptables === null) {
      throw new HerdError('NETWORK', 'neither nft(8) nor iptables(8) is installed on this host; job networks need one for NAT (install nftables), or use --network none');
    }
    await runBatch('network rules', [restore, '--noflush'], iptablesRestore(active));
    const jumps = IPTABLES_JUMPS.map(([table, chain, target]) => `${iptables} -t ${table} -C ${chain} -j ${target} 2>/dev/null || ${iptables} -t ${table} -I ${chain} -j ${target}`);
    await runBatch('network rules', ['/bin/sh', '-s'], `${jumps.join('\n')}\n`);
  }

  /**
   * After a helper restart or a host reboot: a lease is live exactly while its job's host-side veth
   * exists (the veth dies with the job's network namespace), so leases without one are released.
   * A job still in phase 1 under another agent (a second herd version) has no veth yet: reconcile
   * runs only when an agent starts, and the window is a few milliseconds.
   */
  reconcile(): number {
    const present = interfaces();
    let released = 0;
    for (const spec of this.all()) {
      if (!this.registry.hasLeases(spec)) continue;
      const leases = this.leases(spec);
      let changed = false;
      for (const [ip, holder] of leases.all()) {
        const jobId = holder.jobId;
        if (present.has(vethName(jobId))) continue;
        leases.release(parseIp(ip, 'lease'));
        changed = true;
        released++;
      }
      if (changed) this.writeHosts(spec);
    }
    return released;
  }

  /**
   * Gives back the address of a job this agent took over from one that died, once it has ended:
   * its veth went with its namespace; only the lease (and the hosts file) remain.
   */
  releaseJob(networkName: string, jobId: string): void {
    const spec = this.all().find((n) => n.name === networkName);
    if (spec === undefined || !this.registry.hasLeases(spec)) return;
    const leases = this.leases(spec);
    let changed = false;
    for (const [ip, holder] of leases.all()) {
      if (holder.jobId !== jobId) continue;
      leases.release(parseIp(ip, 'lease'));
      changed = true;
    }
    if (changed) this.writeHosts(spec);
  }

  info(spec: NetworkSpec): NetworkInfo {
    const { first, last } = resolveNetwork(spec);
    return { ...spec, range: { start: formatIp(first), end: formatIp(last) }, jobs: this.registry.jobCount(spec) };
  }

  /** herd network create: checked against herd's other networks and this host's routes. */
  async create(request: NetworkRequest): Promise<NetworkInfo> {
    const spec = this.registry.add(request, hostRoutes());
    await this.ensure(spec);
    return this.info(spec);
  }

  /** herd network remove: refused while jobs use it; removes its bridge and rules. */
  async remove(name: string): Promise<void> {
    const spec = this.find(name);
    if (spec.builtin) throw new HerdError('NETWORK', `network ${name} is built in and cannot be removed`);
    await this.drain.settle(spec, { all: true });
    const jobs = this.info(spec).jobs;
    if (jobs > 0) throw new HerdError('NETWORK', `network ${name} is in use by ${jobs} job(s); stop them first`);
    if (interfaces().has(spec.bridge)) await runBatch(`network ${name}: bridge`, [this.tools.need('ip'), 'link', 'del', spec.bridge], '');
    this.registry.delete(spec);
    this.ensured.delete(spec.name);
    await this.applyRules();
  }

  /** Phase 1: a lease on an address, before the job starts. */
  async join(spec: NetworkSpec, jobId: string, jobName: string | undefined, wantedIp: string | undefined, bandwidthBps: number | undefined): Promise<JobNetwork> {
    const network = resolveNetwork(spec);
    let wanted: number | undefined;
    if (wantedIp !== undefined) {
      wanted = parseIp(wantedIp, '--ip');
      if (!assignable(network.cidr, network.gateway, wanted)) {
        throw new HerdError('INVALID_SPEC', `--ip ${wantedIp}: not an address a job may have in ${spec.name} (${spec.cidr}; not the network, gateway or broadcast address)`);
      }
    }
    await this.ensure(spec);
    await this.drain.settle(spec, { ip: wanted, name: jobName });
    const leases = this.leases(spec);
    if (jobName !== undefined && [...leases.all().values()].some((holder) => holder.name === jobName)) {
      throw new HerdError('NETWORK', `a job named "${jobName}" is already running in network ${spec.name}`);
    }
    const ip = leases.allocate(network, jobName === undefined ? { jobId } : { jobId, name: jobName }, wanted);
    this.writeHosts(spec);
    let attachedVeth: string | null = null;
    return {
      spec,
      ip: formatIp(ip),
      attach: async (initPid) => {
        const plan = planAttach(spec, network, ip, jobId, initPid, bandwidthBps);
        try {
          await runBatch('veth', [this.tools.need('ip'), '-batch', '-'], `${plan.host.join('\n')}\n`);
          attachedVeth = plan.veth;
          await runBatch('address', [this.tools.need('nsenter'), `--net=/proc/${initPid}/ns/net`, this.tools.need('ip'), '-batch', '-'], `${plan.job.join('\n')}\n`);
          if (plan.tc.host.length > 0) {
            await runBatch('bandwidth', [this.tools.need('tc'), '-batch', '-'], `${plan.tc.host.join('\n')}\n`);
            await runBatch('bandwidth', [this.tools.need('nsenter'), `--net=/proc/${initPid}/ns/net`, this.tools.need('tc'), '-batch', '-'], `${plan.tc.job.join('\n')}\n`);
          }
        } catch (err) {
          // Roll back: the interface (the lease goes with release()).
          if (attachedVeth !== null) await runBatch('rollback', [this.tools.need('ip'), 'link', 'del', attachedVeth], '').catch(() => {});
          attachedVeth = null;
          throw err;
        }
      },
      release: () => {
        if (attachedVeth === null) {
          leases.release(ip);
          this.writeHosts(spec);
        } else this.drain.add({ spec, ip, veth: attachedVeth, holder: jobName === undefined ? { jobId } : { jobId, name: jobName } });
      },
    };
  }
}
