import { formatIp } from './cidr.ts';
import type { NetworkSpec, Resolved } from './network.ts';

/** The kernel changes of phase 2, as data: one `ip -batch` on the host, one inside the job. */
export interface AttachPlan {
  veth: string;
  host: string[];
  job: string[];
  /** tc batches for --max-bandwidth: on the host end (toward the job), inside (from the job). */
  tc: { host: string[]; job: string[] };
}

/** Host-side veth name: "hv" and the job id, 14 characters (the kernel allows 15). */
export function vethName(jobId: string): string {
  return `hv${jobId}`.slice(0, 15);
}

export function planAttach(spec: NetworkSpec, network: Resolved, ip: number, jobId: string, initPid: number, bandwidthBps?: number): AttachPlan {
  const veth = vethName(jobId);
  const host = [
    // Created with its peer already in the job's network namespace: it never appears on the host as eth0.
    `link add ${veth} type veth peer name eth0 netns ${initPid}`,
    `link set ${veth} master ${spec.bridge}`,
  ];
  if (spec.isolated) host.push(`link set ${veth} type bridge_slave isolated on`);
  host.push(`link set ${veth} up`);
  const job = [
    'link set lo up',
    `addr add ${formatIp(ip)}/${network.cidr.prefix} dev eth0`,
    'link set eth0 up',
    `route add default via ${formatIp(network.gateway)}`,
  ];
  const tc: AttachPlan['tc'] = { host: [], job: [] };
  if (bandwidthBps !== undefined) {
    // A token bucket on each end's egress: the host end shapes what goes to the job, the job's
    // eth0 what it sends (it cannot change that qdisc: no CAP_NET_ADMIN). Only the tbf qdisc is
    // needed; ingress policing would need classifier and action modules many kernels lack.
    const qdisc = (dev: string): string =>
      `qdisc add dev ${dev} root tbf rate ${bandwidthBps * 8}bit burst ${Math.max(32 * 1024, Math.ceil(bandwidthBps / 10))} latency 50ms`;
    tc.host.push(qdisc(veth));
    tc.job.push(qdisc('eth0'));
  }
  return { veth, host, job, tc };
}

/** The bridge of a network, made once: phase 0, before its first job. */
export function bridgeBatch(spec: NetworkSpec, network: Resolved): string[] {
  return [`link add ${spec.bridge} type bridge`, `addr add ${formatIp(network.gateway)}/${network.cidr.prefix} dev ${spec.bridge}`, `link set ${spec.bridge} up`];
}

/**
 * Networks whose jobs reach no service of their host: `isolated` and every named network. Only
 * the default `bridge` network lets jobs talk to the host (as Docker's default bridge does).
 */
export function shieldsHost(spec: NetworkSpec): boolean {
  return spec.name !== 'bridge';
}

/** The --dns servers of a network that a job may query on its host (port 53 only). */
function hostDns(spec: NetworkSpec): string[] {
  return spec.dns.filter((server) => /^\d+\.\d+\.\d+\.\d+$/.test(server));
}

/**
 * herd's own nftables table, replaced whole in one transaction whenever the set of networks
 * changes: NAT for each network, no forwarding from one herd network into another, and no
 * packet from a shielded network's bridge to the host itself (any of its addresses, the
 * gateway included) but replies to what the host began and DNS to the network's --dns servers.
 * Nothing outside this table is touched.
 */
export function nftRuleset(networks: readonly NetworkSpec[]): string {
  const input = networks.filter(shieldsHost).flatMap((n) => {
    const dns = hostDns(n);
    return [
      ...(dns.length === 0 ? [] : [`    iifname "${n.bridge}" ip daddr { ${dns.join(', ')} } meta l4proto { udp, tcp } th dport 53 accept`]),
      `    iifname "${n.bridge}" drop`,
    ];
  });
  const nat = networks.map((n) => `    ip saddr ${n.cidr} oifname != "${n.bridge}" masquerade`);
  const forward = networks
    .map((n) => {
      const others = networks.filter((o) => o.bridge !== n.bridge).map((o) => `"${o.bridge}"`);
      return others.length === 0 ? null : `    iifname "${n.bridge}" oifname { ${others.join(', ')} } drop`;
    })
    .filter((line): line is string => line !== null);
  return [
    'table inet herd',
    'delete table inet herd',
    'table inet herd {',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...nat,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    ...forward,
    '  }',
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    ...(input.length === 0 ? [] : ['    ct state established,related accept', ...input]),
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * The same rules for hosts without nft: herd's own chains, flushed and refilled in one
 * iptables-restore --noflush (atomic per table); the built-in chains only get a jump into them.
 */
export function iptablesRestore(networks: readonly NetworkSpec[]): string {
  const lines = ['*nat', ':HERD-POSTROUTING - [0:0]', '-F HERD-POSTROUTING'];
  for (const n of networks) lines.push(`-A HERD-POSTROUTING -s ${n.cidr} ! -o ${n.bridge} -j MASQUERADE`);
  lines.push('COMMIT', '*filter', ':HERD-FORWARD - [0:0]', '-F HERD-FORWARD', ':HERD-INPUT - [0:0]', '-F HERD-INPUT');
  for (const n of networks) {
    for (const other of networks) if (other.bridge !== n.bridge) lines.push(`-A HERD-FORWARD -i ${n.bridge} -o ${other.bridge} -j DROP`);
  }
  const shielded = networks.filter(shieldsHost);
  if (shielded.length > 0) lines.push('-A HERD-INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT');
  for (const n of shielded) {
    for (const server of hostDns(n)) {
      for (const proto of ['udp', 'tcp']) lines.push(`-A HERD-INPUT -i ${n.bridge} -d ${server} -p ${proto} --dport 53 -j ACCEPT`);
    }
    lines.push(`-A HERD-INPUT -i ${n.bridge} -j DROP`);
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** Jumps from the built-in chains into herd's, each added once. */
export const IPTABLES_JUMPS: ReadonlyArray<[table: string, chain: string, target: string]> = [
  ['nat', 'POSTROUTING', 'HERD-POSTROUTING'],
  ['filter', 'FORWARD', 'HERD-FORWARD'],
  ['filter', 'INPUT', 'HERD-INPUT'],
];
