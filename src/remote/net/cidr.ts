import { HerdError } from '../../protocol/errors.ts';

/** An IPv4 network: its address as a 32-bit number and its prefix length. */
export interface Cidr {
  base: number;
  prefix: number;
}

export function parseIp(text: string, flag: string): number {
  const parts = text.trim().split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    throw new HerdError('INVALID_SPEC', `${flag}: "${text}" is not an IPv4 address`);
  }
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function formatIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (2 ** 32 - 2 ** (32 - prefix)) >>> 0;
}

/** "10.5.0.0/24"; the address must be the network's own (no host bits set). */
export function parseCidr(text: string, flag: string): Cidr {
  const [ip, prefixText] = text.trim().split('/');
  const prefix = Number(prefixText);
  if (ip === undefined || prefixText === undefined || !/^\d{1,2}$/.test(prefixText) || prefix < 8 || prefix > 30) {
    throw new HerdError('INVALID_SPEC', `${flag}: "${text}" is not an IPv4 CIDR with a prefix from /8 to /30 (e.g. 10.5.0.0/24)`);
  }
  const base = parseIp(ip, flag);
  if (((base & ~maskOf(prefix)) >>> 0) !== 0) {
    throw new HerdError('INVALID_SPEC', `${flag}: "${text}" has host bits set; the network is ${formatIp((base & maskOf(prefix)) >>> 0)}/${prefix}`);
  }
  return { base, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.base)}/${cidr.prefix}`;
}

export function size(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

export function broadcast(cidr: Cidr): number {
  return cidr.base + size(cidr) - 1;
}

export function contains(cidr: Cidr, ip: number): boolean {
  return ip >= cidr.base && ip <= broadcast(cidr);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base <= broadcast(b) && b.base <= broadcast(a);
}

/** An address a job may have: inside the network, and not its network, gateway or broadcast address. */
export function assignable(cidr: Cidr, gateway: number, ip: number): boolean {
  return contains(cidr, ip) && ip !== cidr.base && ip !== broadcast(cidr) && ip !== gateway;
}
