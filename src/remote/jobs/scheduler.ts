import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { JobInfo } from '../../protocol/messages.ts';
import { after } from '../system/timers.ts';
import type { JobBook } from './jobBook.ts';
import { readRecord, toInfo, writeRecord, type JobRecord } from './jobRecord.ts';

/**
 * Jobs created SCHEDULED: their record (with the request) is on disk from the start, so a
 * schedule outlives the agent; every agent arms the ones it finds. Starting and cancelling both
 * claim the job first (an O_EXCL file), so two agents (two herd versions) never both start it.
 */
export class Scheduler {
  /** The way to cancel each armed schedule. */
  private readonly timers = new Map<string, () => void>();
  /** Scheduled jobs' -e values: in this agent's memory only (a record names them, see JobRecord.envHeld). */
  private readonly heldEnv = new Map<string, Record<string, string>>();
  private readonly book: JobBook;
  private readonly start: (record: JobRecord) => void;

  constructor(book: JobBook, start: (record: JobRecord) => void) {
    this.book = book;
    this.start = start;
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Arms the scheduled jobs on disk; those whose time passed while no agent ran start now. */
  load(): void {
    for (const id of this.book.ids()) {
      const record = readRecord(join(this.book.dir, id));
      if (record?.state === 'SCHEDULED' && !this.timers.has(id)) this.arm(record);
    }
  }

  /** Records and arms a scheduled job; `env` (its -e values) stays in memory until it starts. */
  add(record: JobRecord, env: Record<string, string>): void {
    if (Object.keys(env).length > 0) this.heldEnv.set(record.id, env);
    writeRecord(join(this.book.dir, record.id), record);
    this.arm(record);
  }

  /** A starting job's -e values, once; undefined where this agent was never given them. */
  takeEnv(id: string): Record<string, string> | undefined {
    const env = this.heldEnv.get(id);
    this.heldEnv.delete(id);
    return env;
  }

  /** Cancels a job that has not started; null when it already has (stop it instead). */
  cancel(id: string, by: string): JobInfo | null {
    if (!this.claim(id)) return null;
    this.timers.get(id)?.();
    this.timers.delete(id);
    this.heldEnv.delete(id);
    const record = readRecord(join(this.book.dir, id));
    if (record === null) return null;
    const cancelled: JobRecord = { ...record, state: 'STOPPED', reason: `cancelled by ${by} before it started`, endedAt: new Date().toISOString() };
    delete cancelled.request;
    writeRecord(join(this.book.dir, id), cancelled);
    return toInfo(cancelled);
  }

  private arm(record: JobRecord): void {
    const due = Date.parse(record.scheduledFor ?? '') - Date.now();
    const cancel = after(due, () => {
      this.timers.delete(record.id);
      const current = readRecord(join(this.book.dir, record.id));
      if (current?.state === 'SCHEDULED' && this.claim(record.id)) this.start(current);
    });
    this.timers.set(record.id, cancel);
  }

  private claim(id: string): boolean {
    try {
      closeSync(openSync(join(this.book.dir, id, 'claimed'), 'wx', 0o600));
      return true;
    } catch {
      return false;
    }
  }
}
