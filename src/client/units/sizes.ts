import { HerdError } from '../../protocol/errors.ts';

const FACTORS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "512M", "1.5G", "64k", "4096" (bytes); binary units; an optional B, iB or /s is accepted. */
export function parseSize(text: string, flag: string, perSecond = false): number {
  const pattern = perSecond ? /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?(?:\/s)?$/i : /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i;
  const match = pattern.exec(text.trim());
  if (match === null) {
    throw new HerdError('INVALID_SPEC', `${flag}: "${text}" is not a ${perSecond ? 'rate' : 'size'} (examples: 512K, 64M, 2G${perSecond ? ', 5M/s' : ''})`);
  }
  const value = Math.floor(Number(match[1]) * FACTORS[match[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(value) || value <= 0) throw new HerdError('INVALID_SPEC', `${flag}: "${text}" must be more than zero`);
  return value;
}

export function parsePositiveInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) {
    throw new HerdError('INVALID_SPEC', `${flag}: "${text}" must be a whole number above zero`);
  }
  return Number(text);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}
