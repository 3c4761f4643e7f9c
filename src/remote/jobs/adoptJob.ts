import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { JobCgroup } from '../cgroups/jobCgroup.ts';
import type { AgentState } from '../agent/agentState.ts';
import { Job } from './job.ts';
import { JobLog } from './logs/jobLog.ts';
import { removeOutputPipes } from './jobOutput.ts';
import { endState, readRecord, recordedExitStatus, writeRecord, type JobRecord } from './jobRecord.ts';
import { processStart } from '../system/processes.ts';
import { removeSandbox } from '../sandbox/sandbox.ts';

/**
 * A job whose agent died while it ran (SIGKILL, a crash; the host did not reboot). If its init
 * still runs, this agent takes it over and records the rest of its output and its exit status;
 * if it ended meanwhile, the exit status its init wrote becomes the result; without one, it is
 * LOST. Only the first agent to claim a dead agent's job acts on it.
 */
export function adoptOrphan(agent: AgentState, record: JobRecord): JobRecord {
  const dir = join(agent.book.dir, record.id);
  try {
    closeSync(openSync(join(dir, `adopted-from-${record.agentPid}`), 'wx', 0o600));
  } catch {
    // another agent claimed it first; its record will say so
    return readRecord(dir) ?? record;
  }
  const release = (network: string, jobId: string): void => agent.networks.releaseJob(network, jobId);
  if (record.plan !== undefined && record.initPid !== undefined && processStart(record.initPid) === (record.initStart ?? null)) {
    const job = Job.adopt(record, agent.book.dir, release);
    agent.book.track(job);
    return readRecord(dir) ?? record;
  }
  // It ended while no agent watched: what is left to learn is in its status file.
  const exitCode = recordedExitStatus(dir);
  const cgroup = record.cgroup === undefined ? null : JobCgroup.existing(record.cgroup);
  const measured = cgroup?.usage();
  void cgroup?.remove();
  if (record.plan !== undefined) removeSandbox(record.plan.sandbox, dir);
  removeOutputPipes(dir);
  if (record.leaseNetwork !== undefined) release(record.leaseNetwork, record.id);
  const endedAt = new Date().toISOString();
  const log = new JobLog(dir, record.log.maxBytes, { written: record.log.bytes, dropped: record.log.dropped });
  let ended: JobRecord;
  if (exitCode === null) {
    log.note('herd: the job ended while no agent watched it, and its exit status was not recorded');
    ended = { ...record, state: 'LOST', reason: 'it ended while no agent watched it; its exit status was not recorded', endedAt };
  } else {
    log.note('herd: the job ended while no agent watched it; output it wrote after its agent died may be missing');
    const result = {
      jobId: record.id, exitCode, signal: null, oomKilled: measured?.oomKilled ?? false, timedOut: false, stopped: false,
      startedAt: record.startedAt ?? record.createdAt, endedAt, durationMs: Date.parse(endedAt) - Date.parse(record.startedAt ?? record.createdAt),
    };
    ended = { ...record, ...endState(result, null, record.timeoutMs, null), exitCode, endedAt, durationMs: result.durationMs, oomKilled: result.oomKilled };
    if (measured !== undefined) ended.usage = measured.usage;
  }
  log.close();
  for (const key of ['plan', 'cgroup', 'initPid', 'initStart', 'leaseNetwork', 'graceMs', 'phases'] as const) delete ended[key];
  ended.agentPid = process.pid;
  writeRecord(dir, ended);
  return ended;
}
