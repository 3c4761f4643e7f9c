import { readFileSync } from 'node:fs';

/**
 * When a process started (field 22 of /proc/PID/stat, clock ticks since boot), or null when there
 * is no such process or it is a zombie. With the pid it names one process for the whole boot:
 * a pid the kernel reused for something else has another start time.
 */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain anything.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * Whether `pid` is a live herd helper: not a zombie (a killed agent stays one where PID 1 does not
 * reap), not a recycled pid of something else.
 */
export function isLiveHelper(pid: number): boolean {
  if (processStart(pid) === null) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('/helper-');
  } catch {
    return false;
  }
}
