import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobInfo, JobResult, JobState, RunRequest } from '../../protocol/messages.ts';
import type { CgroupPlan } from '../cgroups/plan.ts';
import { readText } from '../cgroups/facts.ts';
import type { JobPlan } from './jobPlan.ts';
import { parseExitLine } from '../sandbox/initControl.ts';

/** What job.json holds: the job as users see it, plus what the agent needs to look after it. */
export interface JobRecord extends JobInfo {
  /** The agent that watches it and the boot it ran in: RUNNING under a dead agent or another boot is LOST. */
  agentPid: number;
  bootId: string;
  /** A scheduled job's request, kept so the schedule survives agent restarts; its env values are not in it. */
  request?: RunRequest;
  /**
   * The names of a scheduled job's -e variables, whose values are held only in the memory of the
   * agent that took the request (Scheduler), never on disk.
   */
  envHeld?: string[];
  /** While it runs, what a later agent needs to take it over (see Job.adopt). */
  plan?: JobPlan;
  cgroup?: CgroupPlan;
  initPid?: number;
  initStart?: string;
  leaseNetwork?: string;
  graceMs?: number;
  phases?: Record<string, number>;
}

export const RECORD_FILE = 'job.json';

/** What a job that has not started yet is: the rest of its record says nothing ran. */
export type UnstartedJob = Pick<JobRecord, 'id' | 'argv' | 'state' | 'owner' | 'ownerCa' | 'hostname' | 'network' | 'createdAt' | 'scheduledFor' | 'timeoutMs'> & { maxLogBytes: number };

/** The record of a job before it starts (a scheduled one), kept by this agent in this boot. */
export function unstartedRecord(job: UnstartedJob): JobRecord {
  const { maxLogBytes, ...info } = job;
  return {
    ...info,
    reason: null,
    ip: null,
    startedAt: null,
    endedAt: null,
    durationMs: null,
    exitCode: null,
    signal: null,
    oomKilled: false,
    timedOut: false,
    log: { bytes: 0, maxBytes: maxLogBytes, dropped: false },
    agentPid: process.pid,
    bootId: currentBootId(),
  };
}

export const FINAL_STATES: readonly JobState[] = ['COMPLETED', 'FAILED', 'STOPPED', 'LOST'];

export function isFinal(state: JobState): boolean {
  return FINAL_STATES.includes(state);
}

/** How a job that ran (or tried to) ended, as a state and the reason in a few words. */
export function endState(result: JobResult, setupError: string | null, timeoutMs: number | null, stoppedBy: string | null): { state: JobState; reason: string | null } {
  if (setupError !== null) return { state: 'FAILED', reason: setupError };
  if (result.timedOut) return { state: 'FAILED', reason: `timed out after ${formatMs(timeoutMs ?? 0)}` };
  if (result.stopped) return { state: 'STOPPED', reason: stoppedBy === null ? 'stopped' : `stopped by ${stoppedBy}` };
  if (result.oomKilled) return { state: 'FAILED', reason: 'out of memory: killed by the kernel\'s OOM killer' };
  if (result.exitCode === 0) return { state: 'COMPLETED', reason: null };
  if (result.exitCode !== null) return { state: 'FAILED', reason: `exit ${result.exitCode}` };
  return { state: 'FAILED', reason: result.signal === null ? 'ended without an exit status' : `killed by SIG${result.signal}` };
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function toInfo(record: JobRecord): JobInfo {
  const { agentPid: _a, bootId: _b, request: _r, envHeld: _e, plan: _p, cgroup: _c, initPid: _i, initStart: _s, leaseNetwork: _l, graceMs: _g, phases: _ph, ...info } = record;
  return info;
}

export function readRecord(dir: string): JobRecord | null {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, RECORD_FILE), 'utf8')) as JobRecord;
    return typeof parsed === 'object' && parsed !== null && typeof parsed.id === 'string' && typeof parsed.state === 'string' ? parsed : null;
  } catch {
    return null;
  }
}

/** Replaces job.json atomically, so a reader never sees half a record. Never throws: a full disk loses the record, not the job. */
export function writeRecord(dir: string, record: JobRecord): void {
  const path = join(dir, RECORD_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  } catch {
    // the client still gets the result over the connection
  }
}

/** The command's exit status as the job's init wrote it to `status`, or null (the init was killed first). */
export function recordedExitStatus(dir: string): number | null {
  return parseExitLine(readText(join(dir, 'status')) ?? '');
}

/** This boot of the host: a record from another boot is of a job the reboot ended. */
export function currentBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}
