import { HerdError } from '../../protocol/errors.ts';

/** --become: run the bootstrap (and so the helper and its agent) through sudo as `user`. */
export interface Become {
  user: string;
  /** -K: sudo may ask for a password, which herd types for it (asked once per run on the terminal). */
  askPassword: boolean;
}

/** What sudo prints, on stderr, when it wants the password (-S -p): herd answers it. */
export const SUDO_PROMPT = 'HERD-SUDO-PASSWORD:';

/** What sudo said when it would not run the bootstrap (--become), as an error that says what to do; null when it was not sudo. */
export function sudoRefusal(stderr: string, become: Become): HerdError | null {
  const said = stderr.trim().split('\n').filter((l) => l.includes('sudo')).slice(-1)[0]?.trim() ?? '';
  if (said === '') return null;
  if (/a password is required/.test(said)) {
    return new HerdError('BECOME_FAILED', `sudo needs a password to become ${become.user}`, { hint: 'add -K (--ask-become-pass) to type it, or let the login sudo without one (NOPASSWD)' });
  }
  if (/incorrect password|password attempt/.test(said)) return new HerdError('BECOME_FAILED', 'sudo refused the password', { hint: 'type the SSH login\'s own password at the BECOME password prompt' });
  if (/not in the sudoers|not allowed to (execute|run)|may not run sudo/.test(said)) {
    return new HerdError('BECOME_FAILED', `the SSH login may not sudo to ${become.user}: ${said.slice(0, 200)}`, { hint: 'log in as a user the host\'s sudoers allows (-l), or ask its admin' });
  }
  if (/(command )?not found/.test(said)) return new HerdError('BECOME_FAILED', 'there is no sudo on the host', { hint: 'install sudo there, or log in as the user you want (-l)' });
  return new HerdError('BECOME_FAILED', `sudo did not run herd's helper: ${said.slice(0, 200)}`);
}
