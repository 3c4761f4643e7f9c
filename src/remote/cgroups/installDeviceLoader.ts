import { spawnSync } from 'node:child_process';
import { mkdirSync, rmdirSync } from 'node:fs';
import { installExecutable, removeExecutable } from '../static/install.ts';
import { deviceLoader } from './deviceLoader.ts';
import { newJobId } from '../jobs/jobId.ts';

/**
 * Runs herd-devices on a cgroup v2 directory: null once the policy is attached, else what went wrong
 * (the step it names on stderr, and the errno it exits with).
 */
export function runDeviceLoader(loader: string, dir: string): string | null {
  const result = spawnSync(loader, [dir], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
  if (result.status === 0) return null;
  const said = result.stderr?.toString().replace(/\s+/g, ' ').trim() || result.error?.message || 'no reason given';
  return `${said} (errno ${result.status})`;
}

/** herd-devices, written and checked, or why this cgroup v2 host cannot enforce the device policy. */
export type DeviceLoaderSupport = { loader: string } | { problem: string };

/**
 * Writes herd-devices into the state directory and checks that this host takes the program: it
 * is attached to an empty cgroup under herd's own, which is then removed (a job-id name, so one
 * left by a crash is cleaned up as abandoned).
 */
export function installDeviceLoader(stateDir: string, cgroupRoot: string): DeviceLoaderSupport {
  if (process.arch !== 'x64') return { problem: `no eBPF device loader for ${process.arch} hosts yet (x86_64 only)` };
  const installed = installExecutable(stateDir, 'herd-devices', deviceLoader());
  if ('problem' in installed) return installed;
  const probe = `${cgroupRoot}/herd/${newJobId()}`;
  try {
    mkdirSync(probe, { recursive: true });
  } catch (err) {
    return { problem: `cannot create a cgroup to try the device policy in: ${(err as Error).message}` };
  }
  const problem = runDeviceLoader(installed.path, probe);
  try {
    rmdirSync(probe);
  } catch {
    // left for the next agent to remove as abandoned
  }
  if (problem === null) return { loader: installed.path };
  removeExecutable(installed.path);
  return { problem: `this host does not take herd's eBPF device policy: ${problem}` };
}
