import { spawnSync } from 'node:child_process';
import { installExecutable, removeExecutable } from '../../static/install.ts';
import { seccompLoader } from './loader.ts';

/** Where the job's seccomp loader is, inside the job's root (a hard link of the agent's copy). */
export const SECCOMP_IN_JOB = '/.herd-seccomp';

export type SeccompSupport = { path: string } | { problem: string };

/** Writes herd-seccomp into the state directory and checks that this host loads it: run `/bin/true` through it. */
export function installSeccomp(stateDir: string): SeccompSupport {
  if (process.arch !== 'x64') return { problem: `no seccomp filter for ${process.arch} hosts yet (x86_64 only)` };
  const installed = installExecutable(stateDir, 'herd-seccomp', seccompLoader());
  if ('problem' in installed) return installed;
  const probe = spawnSync(installed.path, ['/bin/true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
  if (probe.status === 0) return installed;
  removeExecutable(installed.path);
  const said = probe.stderr?.toString().trim() || probe.error?.message || `status ${probe.status}`;
  return { problem: `this host does not load herd's seccomp filter: ${said}` };
}
