/*
 * How the agent and a job's init (init.ts) talk, declared once. Lines, each ending in "\n":
 *
 *   fd 4, init → agent:  "pid N"         the init is up as pid N (host view), holding the output FIFOs
 *                        "ready"         setup is done; the init waits for "go" on fd 3
 *                        "userns N"      (mapped users) the command's user namespace waits, as pid N, for its maps
 *                        "fail STEP …"   setup failed at STEP; the init exits SETUP_FAILED_STATUS
 *                        anything else   what setpriv or unshare said on the way into the user namespace
 *   fd 3, agent → init:  "go"            once per wait above; after the last, the job's environment (ENV_SCRIPT)
 *   status file:         "exit N"        the command's exit status, appended by the init when it ends
 */

/** The init's exit status when setup fails or the agent never says go. */
export const SETUP_FAILED_STATUS = 125;

export const GO = 'go\n';

export type InitReport =
  | { kind: 'pid'; pid: number }
  | { kind: 'ready' }
  | { kind: 'userns'; pid: number }
  | { kind: 'fail'; step: string; message: string }
  | { kind: 'other'; text: string };

/** One line from fd 4 as a report; a pid that is not one is "other" (said by something else). */
export function parseInitReport(line: string): InitReport {
  if (line === 'ready') return { kind: 'ready' };
  const pidOf = (text: string): number | null => (/^\d+$/.test(text) && Number(text) > 1 ? Number(text) : null);
  if (line.startsWith('pid ')) {
    const pid = pidOf(line.slice(4));
    if (pid !== null) return { kind: 'pid', pid };
  }
  if (line.startsWith('userns ')) {
    const pid = pidOf(line.slice(7));
    if (pid !== null) return { kind: 'userns', pid };
  }
  if (line.startsWith('fail ')) {
    const [, step = '', ...words] = line.split(' ');
    return { kind: 'fail', step, message: words.join(' ') };
  }
  return { kind: 'other', text: line.trim() };
}

/** The exit status in a status file's text ("exit N"), or null when the init never wrote one. */
export function parseExitLine(text: string): number | null {
  const match = /^exit (\d+)$/m.exec(text);
  return match === null ? null : Number(match[1]);
}
