import type { HerdError } from '../../protocol/errors.ts';
import type { JobLimits, JobResult } from '../../protocol/messages.ts';
import { formatBytes } from '../units/sizes.ts';
import { escapeControl } from './safeText.ts';
import { EXIT_UNREACHABLE, exitStatus, overallStatus, type HostOutcome } from './outcome.ts';
import { bytesFields, jsonDocument } from './jsonDocument.ts';

/** The one line a user sees for an error: where, what, the code, and what to do. */
export function errorLine(error: HerdError): string {
  // Messages and hints may be a host's words: never raw control characters on the terminal.
  const where = error.host === undefined ? '' : `${escapeControl(error.host)}: `;
  const hint = error.hint === undefined ? '' : ` — ${escapeControl(error.hint)}`;
  return `herd: ${where}${escapeControl(error.message)} [${error.code}]${hint}`;
}

/** A line about how a job ended, when that is worth saying (it was OOM-killed). */
export function resultNote(host: string, result: JobResult, limits: JobLimits): string | null {
  if (!result.oomKilled) return null;
  const limit = limits.memoryBytes === undefined ? '' : ` (--max-memory ${formatBytes(limits.memoryBytes)})`;
  return `herd: ${host}: job ${result.jobId} ran out of memory${limit} and was killed by the kernel's OOM killer`;
}

/** How the hosts of a run ended, counted: for the summary event and the --json document. */
export function outcomeCounts(outcomes: readonly HostOutcome[]): { ok: number; failed: number; unreachable: number; errors: number } {
  const counts = { ok: 0, failed: 0, unreachable: 0, errors: 0 };
  for (const o of outcomes) {
    const status = exitStatus(o);
    if (o.result !== null) counts[status === 0 ? 'ok' : 'failed']++;
    else if (status === EXIT_UNREACHABLE) counts.unreachable++;
    else counts.errors++;
  }
  return counts;
}

export function runReportJson(outcomes: readonly HostOutcome[]): string {
  return jsonDocument('run', {
      exitCode: overallStatus(outcomes),
      counts: outcomeCounts(outcomes),
      hosts: outcomes.map((o) => ({
        host: o.host,
        exitCode: exitStatus(o),
        jobId: o.jobId,
        result: o.result,
        error: o.error === null ? null : o.error.toJSON(),
        shippedHelper: o.shippedHelper,
        connection: o.connection ?? null,
        upload: o.upload ?? null,
        download: o.download ?? null,
        ...bytesFields('stdout', o.stdout ?? new Uint8Array(0)),
        ...bytesFields('stderr', o.stderr ?? new Uint8Array(0)),
      })),
  });
}
