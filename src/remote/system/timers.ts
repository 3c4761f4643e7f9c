/** The longest delay setTimeout takes; past it, it fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `fn` after `ms`, however long (timeouts and schedules can be weeks away); returns the way to cancel. */
export function after(ms: number, fn: () => void): () => void {
  let timer: ReturnType<typeof setTimeout>;
  const arm = (left: number): void => {
    const step = Math.min(Math.max(left, 0), MAX_TIMER_MS);
    timer = setTimeout(() => (step < left ? arm(left - step) : fn()), step);
  };
  arm(ms);
  return () => clearTimeout(timer);
}
