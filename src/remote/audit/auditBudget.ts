/**
 * How many audit lines a caller's requests may write: a bucket per certificate subject, refilled
 * at a steady rate. Every request writes a line, refusals too, and the log keeps a fixed number
 * of files, so a caller sending requests without end would rotate everyone else's history away.
 * Over the budget a request is refused (LIMIT) without a line of its own; the next line the
 * caller gets says how many were refused. No I/O here.
 */
export interface AuditBudgetOptions {
  /** Lines a caller may write at once, after a quiet spell. */
  burst: number;
  /** Lines per second a caller gets back. */
  perSecond: number;
}

/** 600 at once, 10 a second after: far above a person's fan-out or a script's, far below what fills the log (8 files of 16 MiB). */
export const AUDIT_BUDGET: AuditBudgetOptions = { burst: 600, perSecond: 10 };
/** Callers remembered at once; the least recently seen are forgotten first (and start with a full bucket). */
const MAX_CALLERS = 4096;

interface Bucket {
  tokens: number;
  at: number;
  refused: number;
}

export type BudgetAnswer = { allowed: true; refusedBefore: number } | { allowed: false };

export class AuditBudget {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly options: AuditBudgetOptions = AUDIT_BUDGET,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Takes one line's worth for `caller`; `refusedBefore` is how many were refused since its last allowed one. */
  take(caller: string): BudgetAnswer {
    const now = this.clock();
    let bucket = this.buckets.get(caller);
    if (bucket === undefined) {
      bucket = { tokens: this.options.burst, at: now, refused: 0 };
      if (this.buckets.size >= MAX_CALLERS) this.buckets.delete(this.buckets.keys().next().value!);
    } else {
      this.buckets.delete(caller);
      bucket.tokens = Math.min(this.options.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.options.perSecond);
      bucket.at = now;
    }
    // Map order is insertion order: re-inserting keeps the most recently seen last.
    this.buckets.set(caller, bucket);
    if (bucket.tokens < 1) {
      bucket.refused++;
      return { allowed: false };
    }
    bucket.tokens--;
    const refusedBefore = bucket.refused;
    bucket.refused = 0;
    return { allowed: true, refusedBefore };
  }
}
