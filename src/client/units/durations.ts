import { HerdError } from '../../protocol/errors.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** "90s", "10m", "1h30m", "30d"; a bare number is seconds. */
export function parseDuration(text: string, flag: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) {
    throw new HerdError('INVALID_SPEC', `${flag}: "${text}" is not a duration (examples: 30s, 10m, 1h30m, 90d)`);
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]!]!, 0);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/;

/** `--schedule`: an RFC 3339 time (with its zone) or `+DURATION` from now; the result is ISO 8601 UTC. */
export function parseWhen(text: string, flag: string, now: number = Date.now()): string {
  const trimmed = text.trim();
  if (trimmed.startsWith('+')) return new Date(now + parseDuration(trimmed.slice(1), flag)).toISOString();
  const at = RFC3339.test(trimmed) ? Date.parse(trimmed.replace(' ', 'T')) : Number.NaN;
  if (Number.isNaN(at)) {
    throw new HerdError('INVALID_SPEC', `${flag}: "${text}" is not a time (examples: +10m, +1h30m, 2026-12-01T03:00:00Z, 2026-12-01T04:00:00+01:00)`);
  }
  return new Date(at).toISOString();
}

/** "850ms", "12.3s", "4m05s", "2h03m", "3d04h": short, for tables. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${pad(Math.floor((s % 86_400) / 3600))}h`;
}
