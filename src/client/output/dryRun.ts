import type { HostTarget } from '../hosts/targets.ts';
import type { RunPlan } from '../commands/runFlags.ts';
import type { SshOptions } from '../transport/sshConnection.ts';
import { formatBytes } from '../units/sizes.ts';
import { formatDuration } from '../units/durations.ts';
import { escapeControl } from './safeText.ts';
import { formatTable } from './table.ts';

/**
 * `herd run --dry-run`: what would be done, from the flags and the config alone: the job each
 * host would get (environment values left out) and how each host would be reached. Nothing is
 * contacted, nothing written.
 */
export interface DryRun {
  dryRun: true;
  /** The request each host would get, with the environment's names only. */
  job: Omit<RunPlan['request'], 'env'> & { envNames: string[] };
  transport: string;
  parallel: number;
  hosts: HostTarget[];
}

export function dryRunOf(plan: RunPlan, targets: HostTarget[], ssh: SshOptions): DryRun {
  const { env, ...request } = plan.request;
  return { dryRun: true, job: { ...request, envNames: Object.keys(env) }, transport: ssh.transport, parallel: plan.parallel, hosts: targets };
}

function jobLine(job: DryRun['job']): string {
  const parts: string[] = [job.isolation === 'none' ? 'host mode (no sandbox)' : 'sandbox'];
  if (job.isolation !== 'none') parts.push(`network ${job.network ?? 'bridge (root) or none'}`);
  if (job.pid === 'host') parts.push("the host's PID namespace");
  for (const b of job.binds ?? []) parts.push(`bind ${b.host} at ${b.job}${b.readOnly ? ' (read-only)' : ''}`);
  const l = job.limits ?? {};
  const limits = [
    l.cpuPercent === undefined ? null : `cpu ${l.cpuPercent}%`,
    l.cpuCores === undefined ? null : `cpus ${l.cpuCores}`,
    l.memoryBytes === undefined ? null : `memory ${formatBytes(l.memoryBytes)}`,
    l.pids === undefined ? null : `pids ${l.pids}`,
    l.readBps === undefined ? null : `read ${formatBytes(l.readBps)}/s`,
    l.writeBps === undefined ? null : `write ${formatBytes(l.writeBps)}/s`,
  ].filter((x): x is string => x !== null);
  parts.push(limits.length === 0 ? 'no limits' : `limits ${limits.join(', ')}`);
  if (job.timeoutMs !== undefined) parts.push(`timeout ${formatDuration(job.timeoutMs)}`);
  if (job.schedule !== undefined) parts.push(`at ${job.schedule}`);
  else if (job.detach === true) parts.push('detached');
  if (job.user !== undefined) parts.push(`as ${job.user.uid}:${job.user.gid}`);
  if (job.envNames.length > 0) parts.push(`env ${job.envNames.join(' ')}`);
  return parts.join('; ');
}

export function renderDryRun(dry: DryRun): string {
  const rows = dry.hosts.map((t) =>
    t.kind === 'local'
      ? [t.name, '(this machine)', '', '', 'local', '']
      : [t.name, t.address, String(t.port), t.user, dry.transport, (t.ssh?.proxyJump ?? []).join(',') || '-'],
  );
  return [
    `herd run --dry-run: nothing was started. On ${dry.hosts.length} host${dry.hosts.length === 1 ? '' : 's'}, ${Math.min(dry.parallel, dry.hosts.length)} at a time:`,
    `  ${escapeControl(dry.job.argv.join(' '))}`,
    `  ${escapeControl(jobLine(dry.job))}`,
    '',
    formatTable(['HOST', 'ADDRESS', 'PORT', 'USER', 'TRANSPORT', 'VIA'], rows.map((r) => r.map(escapeControl))).trimEnd(),
    '',
  ].join('\n');
}
