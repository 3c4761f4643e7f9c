import type { JobInfo } from '../../protocol/messages.ts';
import { formatDuration } from '../units/durations.ts';
import { formatBytes } from '../units/sizes.ts';
import { escapeControl, hasControl } from './safeText.ts';

/**
 * A job's command as one line, cut to `max` characters: arguments with spaces quoted as a shell
 * would take them, and those with control characters in $'...' with escapes (they come from
 * whoever started the job, and must not reach the terminal raw).
 */
export function commandLine(argv: readonly string[], max = Infinity): string {
  const quote = (a: string): string => {
    if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a)) return a;
    if (hasControl(a)) return `$'${escapeControl(a.replace(/\\/g, '\\\\').replace(/'/g, "\\'"))}'`;
    return `'${a.replace(/'/g, `'\\''`)}'`;
  };
  const line = argv.map(quote).join(' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function exitText(job: JobInfo): string {
  if (job.exitCode !== null) return String(job.exitCode);
  if (job.signal !== null) return `SIG${job.signal}`;
  return '-';
}

/** How long it ran, or has been running. */
function ranFor(job: JobInfo, now: number): string {
  if (job.durationMs !== null) return formatDuration(job.durationMs);
  if (job.startedAt !== null && job.endedAt === null) return formatDuration(now - Date.parse(job.startedAt));
  return '-';
}

function when(iso: string | null): string {
  if (iso === null) return '-';
  const d = new Date(iso);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function jobTable(rows: ReadonlyArray<{ host: string; job: JobInfo }>, showHost: boolean, now = Date.now()): string {
  const header = [...(showHost ? ['HOST'] : []), 'ID', 'STATE', 'EXIT', 'STARTED', 'DURATION', 'COMMAND'];
  const cells = rows.map(({ host, job }) => [
    ...(showHost ? [host] : []),
    escapeControl(job.id),
    escapeControl(job.state),
    exitText(job),
    job.state === 'SCHEDULED' ? `at ${when(job.scheduledFor)}` : when(job.startedAt),
    ranFor(job, now),
    commandLine(job.argv, 60),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  return [header, ...cells].map((r) => `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`).join('');
}

/** `herd job status`: one field per line. */
export function jobDetails(host: string, job: JobInfo, now = Date.now()): string {
  const fields: Array<[string, string]> = [
    ['job', job.id],
    ['host', host],
    ['command', commandLine(job.argv)],
    ['state', job.reason === null ? job.state : `${job.state} (${escapeControl(job.reason)})`],
    ['owner', escapeControl(job.owner)],
  ];
  if (job.scheduledFor !== null) fields.push(['scheduled', when(job.scheduledFor)]);
  fields.push(['started', when(job.startedAt)], ['ended', when(job.endedAt)], ['duration', ranFor(job, now)]);
  fields.push(['exit code', job.exitCode === null ? '-' : String(job.exitCode)]);
  if (job.signal !== null) fields.push(['signal', `SIG${job.signal}`]);
  if (job.oomKilled) fields.push(['oom killed', 'yes']);
  if (job.timeoutMs !== null) fields.push(['timeout', `${formatDuration(job.timeoutMs)}${job.timedOut ? ' (timed out)' : ''}`]);
  const usage = job.usage;
  if (usage?.cpuMs !== undefined) fields.push(['cpu time', formatDuration(usage.cpuMs)]);
  if (usage?.peakMemoryBytes !== undefined) fields.push(['peak memory', formatBytes(usage.peakMemoryBytes)]);
  if (usage?.readBytes !== undefined || usage?.writeBytes !== undefined) {
    fields.push(['disk i/o', `${formatBytes(usage.readBytes ?? 0)} read, ${formatBytes(usage.writeBytes ?? 0)} written`]);
  }
  fields.push(['network', escapeControl(job.ip === null ? job.network : `${job.network} ${job.ip}`)], ['hostname', escapeControl(job.hostname)]);
  if (job.isolation === 'none') fields.push(['isolation', 'none (host mode: on the host itself)']);
  if (job.seccomp !== undefined) fields.push(['seccomp', job.seccomp.loaded ? 'yes' : `no (${escapeControl(job.seccomp.problem ?? 'not loaded')})`]);
  if (job.devices !== undefined) fields.push(['devices', job.devices.enforced ? `allow list (${job.devices.how ?? 'cgroup'})` : `no policy (${escapeControl(job.devices.problem ?? 'not enforced')})`]);
  fields.push(['output', `${formatBytes(job.log.bytes)} recorded (cap ${formatBytes(job.log.maxBytes)})${job.log.dropped ? ', later output dropped' : ''}`]);
  const width = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join('');
}
