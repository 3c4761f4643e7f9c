import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import { resolveCommand } from '../system/command.ts';
import { bridgeBatch, IPTABLES_JUMPS, iptablesRestore, nftRuleset, planAttach, vethName } from './attachPlan.ts';
import { assignable, formatCidr, formatIp, overlaps, parseCidr, parseIp, type Cidr } from './cidr.ts';
import { Leases, type LeaseHolder } from './leases.ts';
import { BUILTIN_NETWORKS, bridgeName, resolvConf, resolveNetwork, validateNetworkName, type NetworkSpec } from './network.ts';
import type { NetworkInfo, NetworkRequest } from '../../protocol/messages.ts';
import { runBatch } from './run.ts';
import { HOST_PATH } from '../system/hostPath.ts';

type Tool = 'ip' | 'nsenter' | 'nft' | 'tc' | 'iptables-restore' | 'iptables';
const PACKAGES: Record<Tool, string> = { ip: 'iproute2', nsenter: 'util-linux', nft: 'nftables', tc: 'iproute2', 'iptables-restore': 'iptables', iptables: 'iptables' };

/** IPv4 routes of this network namespace, from /proc/net/route (little-endian hex fields). */
function hostRoutes(): Array<Cidr & { device: string }> {
  const flip = (hex: string): number => Number.parseInt(hex.match(/../g)!.reverse().join(''), 16);
  return readFileSync('/proc/net/route', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 8)
    .map((f) => {
      const prefix = flip(f[7]!).toString(2).replace(/0/g, '').length;
      return { device: f[0]!, base: flip(f[1]!), prefix };
    });
}

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

/** Waits between looks for a draining veth, then the last resort of deleting it ourselves. */
const DRAIN_CHECKS_MS = [200, 800, 2000];

/** An ended job's address, kept until its host-side veth is gone (see drain()). */
interface Draining {
  spec: NetworkSpec;
  ip: number;
  veth: string;
  /** The job's id and name, as its lease holds them. */
  holder: LeaseHolder;
}

/** Networks on one host: their bridges, NAT rules, address leases and jobs' interfaces. */
export class NetworkManager {
  private readonly dir: string;
  private readonly ensured = new Set<string>();
  private tools: Record<Tool, string> | undefined;
  private readonly draining = new Set<Draining>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'networks');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private tool(name: Tool): string {
    const found = this.findTool(name);
    if (found === null) {
      throw new HerdError('NETWORK', `${name}(8) is not installed on this host; job networks need it (install ${PACKAGES[name]}), or use --network none`);
    }
    return found;
  }

  private findTool(name: Tool): string | null {
    this.tools ??= { ip: '', nsenter: '', nft: '', tc: '', 'iptables-restore': '', iptables: '' };
    if (this.tools[name] === '') {
      try {
        this.tools[name] = resolveCommand(name, HOST_PATH);
      } catch {
        return null;
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
    const nft = this.findTool('nft');
    if (nft !== null) {
      await runBatch('network rules', [nft, '-f', '-'], nftRuleset(active));
      return;
    }
    const restore = this.findTool('iptables-restore');
    const iptables = this.findTool('iptables');
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
      if (!existsSync(join(this.dir, spec.name, 'leases'))) continue;
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
    if (spec === undefined || !existsSync(join(this.dir, spec.name, 'leases'))) return;
    const leases = this.leases(spec);
    let changed = false;
    for (const [ip, holder] of leases.all()) {
      if (holder.jobId !== jobId) continue;
      leases.release(parseIp(ip, 'lease'));
      changed = true;
    }
    if (changed) this.writeHosts(spec);
  }

  /** The network's hosts file, bound read-only into its jobs as /etc/hosts; made if missing. */
  hostsFile(spec: NetworkSpec): string {
    const path = join(this.dir, spec.name, 'hosts');
    if (!existsSync(path)) {
      mkdirSync(join(this.dir, spec.name), { recursive: true, mode: 0o700 });
      this.writeHosts(spec);
    }
    return path;
  }

  /**
   * The network's resolv.conf when it has --dns servers (bound as the job's /etc/resolv.conf);
   * undefined otherwise, and the job reads the host's. The host's must be a regular file to be
   * covered by a bind mount: a symlink (systemd-resolved) would be followed onto the host's target.
   */
  resolvFile(spec: NetworkSpec): string | undefined {
    if (spec.dns.length === 0) return undefined;
    try {
      if (!lstatSync('/etc/resolv.conf').isFile()) return undefined;
    } catch {
      return undefined;
    }
    const path = join(this.dir, spec.name, 'resolv.conf');
    mkdirSync(join(this.dir, spec.name), { recursive: true, mode: 0o700 });
    writeFileSync(path, resolvConf(spec.dns), { mode: 0o644 });
    return path;
  }

  /**
   * Rewrites the hosts file from the leases. In place (truncate and write, same inode): jobs see it
   * through a bind mount, which a rename would leave pointing at the old file.
   */
  private writeHosts(spec: NetworkSpec): void {
    const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
    if (existsSync(join(this.dir, spec.name, 'leases'))) {
      for (const [ip, holder] of this.leases(spec).all()) {
        const { jobId, name: jobName } = holder;
        lines.push(`${ip}\t${[jobName, jobId].filter(Boolean).join(' ')}`);
      }
    }
    writeFileSync(join(this.dir, spec.name, 'hosts'), `${lines.join('\n')}\n`, { mode: 0o644 });
  }

  info(spec: NetworkSpec): NetworkInfo {
    const { first, last } = resolveNetwork(spec);
    const jobs = existsSync(join(this.dir, spec.name, 'leases')) ? this.leases(spec).all().size : 0;
    return { ...spec, range: { start: formatIp(first), end: formatIp(last) }, jobs };
  }

  /** herd network create: checked against herd's other networks and this host's routes. */
  async create(request: NetworkRequest): Promise<NetworkInfo> {
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
    for (const other of this.all()) {
      if (other.name === spec.name) throw new HerdError('NETWORK', `network ${spec.name} already exists on this host`);
      if (overlaps(cidr, parseCidr(other.cidr, 'cidr'))) throw new HerdError('NETWORK', `--cidr ${spec.cidr} overlaps herd network ${other.name} (${other.cidr})`);
    }
    const herdBridges = new Set(this.all().map((n) => n.bridge));
    for (const route of hostRoutes()) {
      if (route.prefix > 0 && !herdBridges.has(route.device) && overlaps(cidr, route)) {
        throw new HerdError('NETWORK', `--cidr ${spec.cidr} overlaps a route of this host: ${formatCidr(route)} dev ${route.device}`);
      }
    }
    mkdirSync(join(this.dir, spec.name), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(join(this.dir, `${spec.name}.json`), `${JSON.stringify(spec, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
    } catch {
      throw new HerdError('NETWORK', `network ${spec.name} already exists on this host`);
    }
    await this.ensure(spec);
    return this.info(spec);
  }

  /** herd network remove: refused while jobs use it; removes its bridge and rules. */
  async remove(name: string): Promise<void> {
    const spec = this.find(name);
    if (spec.builtin) throw new HerdError('NETWORK', `network ${name} is built in and cannot be removed`);
    await this.settle(spec, { all: true });
    const jobs = this.info(spec).jobs;
    if (jobs > 0) throw new HerdError('NETWORK', `network ${name} is in use by ${jobs} job(s); stop them first`);
    if (interfaces().has(spec.bridge)) await runBatch(`network ${name}: bridge`, [this.tool('ip'), 'link', 'del', spec.bridge], '');
    rmSync(join(this.dir, `${spec.name}.json`), { force: true });
    rmSync(join(this.dir, spec.name), { recursive: true, force: true });
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
    await this.settle(spec, { ip: wanted, name: jobName });
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
          attachedVeth = null;
          throw err;
        }
      },
      release: () => {
        if (attachedVeth === null) {
          leases.release(ip);
          this.writeHosts(spec);
        } else this.drain({ spec, ip, veth: attachedVeth, holder: jobName === undefined ? { jobId } : { jobId, name: jobName } });
      },
    };
  }

  /**
   * An ended job's address goes back once its host-side veth is gone. The kernel removes the veth
   * with the job's network namespace, asynchronously (cleanup_net batches them); deleting it
   * ourselves cost a fork of this process and an `ip` per job, the largest part of a job's network
   * cost on a busy host. Until then the address stays leased: the dying namespace still holds it
   * on the bridge, and a new job given it would meet the old one's neighbours. Looked at a few
   * times (a read of /proc/net/dev); deleted by hand only if it lingers.
   */
  private drain(entry: Draining): void {
    this.draining.add(entry);
    let check = 0;
    const later = (): void => {
      const timer = setTimeout(look, DRAIN_CHECKS_MS[check++]);
      timer.unref?.();
    };
    const look = (): void => {
      if (!this.draining.has(entry)) return;
      if (!interfaces().has(entry.veth)) this.freeDrained(entry);
      else if (check < DRAIN_CHECKS_MS.length) later();
      else void this.deleteDrained(entry);
    };
    later();
  }

  private freeDrained(entry: Draining): void {
    if (!this.draining.delete(entry)) return;
    this.leases(entry.spec).release(entry.ip);
    this.writeHosts(entry.spec);
  }

  private async deleteDrained(entry: Draining): Promise<void> {
    await runBatch('release', [this.tool('ip'), 'link', 'del', entry.veth], '').catch(() => {});
    this.freeDrained(entry);
  }

  /**
   * Draining addresses of `spec` whose veth is gone are freed; those `wanted` (all, or the --ip or
   * --name a new job asks for) are freed now, deleting their veth.
   */
  private async settle(spec: NetworkSpec, wanted: { all?: boolean; ip?: number | undefined; name?: string | undefined }): Promise<void> {
    const mine = [...this.draining].filter((d) => d.spec.name === spec.name);
    if (mine.length === 0) return;
    const present = interfaces();
    const waits: Array<Promise<void>> = [];
    for (const entry of mine) {
      if (!present.has(entry.veth)) this.freeDrained(entry);
      else if (wanted.all === true || entry.ip === wanted.ip || (wanted.name !== undefined && entry.holder.name === wanted.name)) waits.push(this.deleteDrained(entry));
    }
    await Promise.all(waits);
  }
}
