import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import type { JobInfo, JobState } from '../../protocol/messages.ts';
import type { Job } from './job.ts';
import { isLiveHelper } from '../system/processes.ts';
import { isJobId } from './jobId.ts';
import { currentBootId, isFinal, readRecord, toInfo, writeRecord, type JobRecord } from './jobRecord.ts';
import { LOG_FILE } from './logs/logFormat.ts';
import type { LogSource } from './logs/logStream.ts';


/** How often a reader checks a job that another agent (another herd version) looks after. */
const FOREIGN_POLL_MS = 250;

/** Finished jobs older than this are removed by the agent itself (herd job prune removes them sooner). */
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000;

/**
 * The jobs of one host, as the agent knows them: live ones in memory, every one on disk
 * (jobs/<id>/job.json). Ids are found by unique prefix.
 */
export class JobBook {
  readonly dir: string;
  /** Jobs this agent started and watches, until they end. */
  readonly live = new Map<string, Job>();
  private readonly bootId = currentBootId();
  /** What to do with a RUNNING job whose agent died (the agent takes it over; see adoptJob.ts). */
  private readonly adopt: ((record: JobRecord) => JobRecord) | null;

  constructor(dir: string, adopt: ((record: JobRecord) => JobRecord) | null = null) {
    this.dir = dir;
    this.adopt = adopt;
  }

  /**
   * At agent start: takes over the jobs of agents that died, records the end of those that ended
   * meanwhile, and marks the ones a reboot ended LOST.
   */
  sweep(): void {
    for (const id of this.ids()) {
      const record = readRecord(join(this.dir, id));
      if (record !== null) this.checked(record);
    }
  }

  /** Keeps a job this agent started among the live ones until it ends. */
  track(job: Job): void {
    this.live.set(job.id, job);
    job.watch(() => {
      if (job.result !== null) this.live.delete(job.id);
    });
  }

  ids(): string[] {
    try {
      return readdirSync(this.dir).filter(isJobId);
    } catch {
      return [];
    }
  }

  /** The one job id `prefix` names. */
  resolve(prefix: string): string {
    if (!/^[0-9a-f]{1,12}$/.test(prefix)) throw new HerdError('INVALID_SPEC', `"${prefix}" is not a job id (12 hex digits, or a unique prefix of them)`);
    const matches = this.ids().filter((id) => id.startsWith(prefix) && readRecord(join(this.dir, id)) !== null);
    if (matches.length === 1) return matches[0]!;
    if (matches.length === 0) throw new HerdError('JOB_NOT_FOUND', `no job ${prefix} on this host`, { hint: 'herd job list shows the jobs of a host' });
    throw new HerdError('INVALID_SPEC', `job id ${prefix} is ambiguous: it matches ${matches.slice(0, 5).join(', ')}${matches.length > 5 ? ', ...' : ''}`, { hint: 'give more of the id' });
  }

  record(id: string): JobRecord {
    const record = readRecord(join(this.dir, id));
    if (record === null) throw new HerdError('JOB_NOT_FOUND', `no job ${id} on this host`);
    return this.checked(record);
  }

  info(id: string): JobInfo {
    return this.live.get(id)?.info() ?? toInfo(this.record(id));
  }

  list(state?: JobState): JobInfo[] {
    const all: JobInfo[] = [];
    for (const id of this.ids()) {
      const live = this.live.get(id);
      const record = live === undefined ? readRecord(join(this.dir, id)) : null;
      const info = live?.info() ?? (record === null ? null : toInfo(this.checked(record)));
      if (info !== null && (state === undefined || info.state === state)) all.push(info);
    }
    return all.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  logPath(id: string): string {
    return join(this.dir, id, LOG_FILE);
  }

  /** What a log reader needs to know about a job: whether it has ended, and when it changes. */
  source(id: string): LogSource {
    const live = this.live.get(id);
    if (live !== undefined) return { finished: () => live.result !== null, watch: (changed) => live.watch(changed) };
    return {
      finished: () => isFinal(this.info(id).state),
      watch: (changed) => {
        // Not ours: started by another agent (another herd version), or scheduled and not started yet.
        const timer = setInterval(changed, FOREIGN_POLL_MS);
        return () => clearInterval(timer);
      },
    };
  }

  /** Removes a job that has ended: its record, log and files. */
  delete(id: string): JobInfo {
    const info = this.info(id);
    if (!isFinal(info.state)) {
      throw new HerdError('JOB_RUNNING', `job ${id} is ${info.state.toLowerCase()}`, { hint: `stop it first: herd job stop ${id}` });
    }
    rmSync(join(this.dir, id), { recursive: true, force: true });
    return info;
  }

  /** Deletes the finished jobs that ended at least `olderThanMs` ago; returns them. */
  prune(olderThanMs: number, mayDelete: (info: JobInfo) => boolean = () => true): JobInfo[] {
    const cutoff = Date.now() - olderThanMs;
    const pruned: JobInfo[] = [];
    for (const info of this.list()) {
      if (!isFinal(info.state) || !mayDelete(info)) continue;
      const ended = Date.parse(info.endedAt ?? info.createdAt);
      if (ended <= cutoff) pruned.push(this.delete(info.id));
    }
    return pruned;
  }

  /**
   * A record that says RUNNING while no agent watches it. After a reboot the job is gone: LOST.
   * When its agent died, this agent takes the job over (or records how it ended). Without a way
   * to (a bare JobBook), or when its processes vanished under this very agent, it is LOST.
   */
  private checked(record: JobRecord): JobRecord {
    if (record.state !== 'RUNNING' || this.live.has(record.id)) return record;
    let reason: string | null = null;
    if (record.bootId !== this.bootId) reason = 'the host rebooted while it ran';
    else if (record.agentPid !== process.pid && !isLiveHelper(record.agentPid)) {
      if (this.adopt !== null) return this.adopt(record);
      reason = `the agent that watched it (pid ${record.agentPid}) ended while it ran; its exit status was not recorded`;
    } else if (record.agentPid === process.pid) reason = 'its processes vanished while no one watched';
    if (reason === null) return record;
    const lost: JobRecord = { ...record, state: 'LOST', reason, endedAt: record.endedAt ?? new Date().toISOString() };
    writeRecord(join(this.dir, record.id), lost);
    return lost;
  }
}
