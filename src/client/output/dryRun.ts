import type { HostTarget } from '../hosts/targets.ts';
import type { RunPlan } from '../commands/runFlags.ts';
import type { SshOptions } from '../transport/sshConnection.ts';
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
  /** The limit and time flags as they were typed (--max-memory 1G), shown so. */
  flags: Record<string, string>;
}

export function dryRunOf(plan: RunPlan, targets: HostTarget[], ssh: SshOptions, flags: Record<string, string | undefined>): DryRun {
  const { env, ...request } = plan.request;
  const typed = Object.fromEntries(Object.entries(flags).filter((e): e is [string, string] => e[1] !== undefined));
  return { dryRun: true, job: { ...request, envNames: Object.keys(env) }, transport: ssh.transport, parallel: plan.parallel, hosts: targets, flags: typed };
}

function jobLine(job: DryRun['job'], flags: Record<string, string>): string {
  const parts: string[] = [job.isolation === 'none' ? 'host mode (no sandbox)' : 'sandbox'];
  if (job.isolation !== 'none') parts.push(`network ${job.network ?? 'bridge (root) or none'}`);
  if (job.pid === 'host') parts.push("the host's PID namespace");
  for (const b of job.binds ?? []) parts.push(`bind ${b.host} at ${b.job}${b.readOnly ? ' (read-only)' : ''}`);
  // Limits and times as they were typed: what the user reads back is what they wrote.
  const limits = Object.entries(flags).filter(([flag]) => flag !== '--timeout').map(([flag, value]) => `${flag} ${value}`);
  parts.push(limits.length === 0 ? 'no limits' : `limits ${limits.join(', ')}`);
  if (flags['--timeout'] !== undefined) parts.push(`timeout ${flags['--timeout']}`);
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
    `  ${escapeControl(jobLine(dry.job, dry.flags))}`,
    '',
    formatTable(['HOST', 'ADDRESS', 'PORT', 'USER', 'TRANSPORT', 'VIA'], rows.map((r) => r.map(escapeControl))).trimEnd(),
    '',
  ].join('\n');
}
