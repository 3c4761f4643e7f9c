import { readFileSync } from 'node:fs';
import type { Cidr } from './cidr.ts';

/** IPv4 routes of this network namespace, from /proc/net/route (little-endian hex fields). */
export function hostRoutes(): Array<Cidr & { device: string }> {
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
export function interfaces(): Set<string> {
  const text = readFileSync('/proc/net/dev', 'utf8');
  return new Set(text.split('\n').slice(2).map((line) => line.split(':')[0]!.trim()).filter(Boolean));
}
