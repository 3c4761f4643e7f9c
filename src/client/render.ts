import type { HerdError } from '../protocol/errors.ts';
import { exitStatus, overallStatus, type HostOutcome } from './outcome.ts';

/** The one line a user sees for an error: where, what, the code, and what to do. */
export function errorLine(error: HerdError): string {
  const where = error.host === undefined ? '' : `${error.host}: `;
  const hint = error.hint === undefined ? '' : ` — ${error.hint}`;
  return `herd: ${where}${error.message} [${error.code}]${hint}`;
}

export function runReportJson(outcomes: readonly HostOutcome[]): string {
  return `${JSON.stringify(
    {
      exitCode: overallStatus(outcomes),
      hosts: outcomes.map((o) => ({
        host: o.host,
        exitCode: exitStatus(o),
        jobId: o.jobId,
        result: o.result,
        error: o.error === null ? null : o.error.toJSON(),
        shippedHelper: o.shippedHelper,
        connection: o.connection ?? null,
        stdout: o.stdout ?? '',
        stderr: o.stderr ?? '',
      })),
    },
    null,
    2,
  )}\n`;
}
