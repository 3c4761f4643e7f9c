import { HerdError, peerError } from '../../protocol/errors.ts';
import type { HelperAsset } from '../buildInfo.ts';
import type { RawChannel } from './channel.ts';
import { SUDO_PROMPT, sudoRefusal, type Become } from './become.ts';
import { becomePassword } from './passphrase.ts';
import { createReadStream } from 'node:fs';
import type { RuntimeOffer } from '../runtime/bunRuntime.ts';

/** Longest bootstrap line we accept before the helper is ready. */
const MAX_BOOTSTRAP_LINE = 4096;

export interface Bootstrapped {
  /** Bytes that arrived after HERD-READY: the start of the framed protocol. */
  leftover: Uint8Array;
  /** Whether this contact had to ship the helper. */
  shipped: boolean;
  /** The Bun target whose runtime this contact shipped (a host without one), or null. */
  shippedRuntime: string | null;
}

/** Where a runtime for a host's target comes from (runtime/bunRuntime.ts); a string says why there is none. */
export type RuntimeSource = (target: string) => Promise<RuntimeOffer | string>;

/**
 * Speaks the line dialogue of bootstrap.sh. On HERD-READY it pauses stdout so that
 * no protocol bytes are emitted before the session is wired to it.
 */
export function runBootstrap(raw: RawChannel, helper: HelperAsset, hostName: string, stderrTail: () => string, become?: Become, runtimes?: RuntimeSource, onPhase?: (what: string) => void): Promise<Bootstrapped> {
  return new Promise((resolve, reject) => {
    let pending = Buffer.alloc(0);
    let shipped = false;
    let settled = false;
    let offer: RuntimeOffer | null = null;
    let runtimeAsked = false;
    let shippedRuntime: string | null = null;
    /** While the runtime's source answers: lines wait (the bootstrap says nothing until it has our answer). */
    let waiting = false;
    const finish = (error: HerdError | null, leftover?: Uint8Array): void => {
      if (settled) return;
      settled = true;
      raw.stdout.removeListener('data', onData);
      raw.stdout.removeListener('end', onEnd);
      if (error !== null) reject(error.withHost(hostName));
      else resolve({ leftover: leftover ?? new Uint8Array(0), shipped, shippedRuntime });
    };
    const onData = (chunk: Buffer): void => {
      pending = Buffer.concat([pending, chunk]);
      lines();
    };
    const lines = (): void => {
      for (;;) {
        if (waiting || settled) return;
        const newline = pending.indexOf(10);
        if (newline < 0) {
          if (pending.length > MAX_BOOTSTRAP_LINE) {
            finish(new HerdError('HELPER_START', `unexpected output from the host's shell before herd's helper started: ${JSON.stringify(pending.subarray(0, 80).toString())}`, {
              hint: 'a login script that prints to stdout in non-interactive sessions breaks herd (and scp): guard it with a check for an interactive shell',
            }));
          }
          return;
        }
        const line = pending.subarray(0, newline).toString('utf8');
        pending = pending.subarray(newline + 1);
        if (line === 'HERD-SEND') {
          // bootstrap.sh asks once; a host that asks again would have us write the helper for ever.
          if (shipped) {
            finish(new HerdError('PROTOCOL', 'the host asked for the helper twice (HERD-SEND); a correct bootstrap asks once, so herd stops here', {
              hint: 'something other than herd\'s bootstrap answers on this host (a ForceCommand, a wrapper in the login shell): check what `ssh HOST` runs',
            }));
            return;
          }
          shipped = true;
          raw.stdin.write(helper.bytes());
        } else if (line.startsWith('HERD-RUNTIME ')) {
          const target = line.slice('HERD-RUNTIME '.length).trim();
          if (runtimeAsked) return finish(new HerdError('PROTOCOL', 'the host asked for a runtime twice; a correct bootstrap asks once'));
          runtimeAsked = true;
          waiting = true;
          onPhase?.(`finding a Bun runtime for ${target}`);
          const answer = runtimes === undefined ? Promise.resolve('this client cannot send one') : runtimes(target).catch((err: unknown) => (err instanceof HerdError ? `${err.message}${err.hint === undefined ? '' : ` (${err.hint})`}` : String(err)));
          void answer.then((found) => {
            if (settled) return;
            if (typeof found === 'string') raw.stdin.write(`NONE ${found.replace(/\s+/g, ' ')}\n`);
            else {
              offer = found;
              raw.stdin.write(`${found.sha256} ${found.gzBytes}\n`);
            }
            waiting = false;
            lines();
          });
          return;
        } else if (line === 'HERD-SEND-RUNTIME') {
          if (offer === null || shippedRuntime !== null) return finish(new HerdError('PROTOCOL', 'the host asked for a runtime it was not offered, or twice'));
          shippedRuntime = offer.target;
          onPhase?.(`sending the Bun runtime (${(offer.gzBytes / 1e6).toFixed(0)} MB)`);
          // Paced by the channel: the file is piped, not read whole.
          createReadStream(offer.gzPath).on('error', (err) => finish(new HerdError('HELPER_START', `cannot read the cached runtime ${offer?.gzPath}: ${err.message}`))).pipe(raw.stdin as NodeJS.WritableStream, { end: false });
        } else if (line === 'HERD-RUNTIME-CACHED') {
          onPhase?.('the host has the runtime already');
        } else if (line === 'HERD-READY') {
          raw.stdout.pause();
          finish(null, new Uint8Array(pending));
          return;
        } else if (line.startsWith('HERD-ERROR ')) {
          const [, code, ...words] = line.split(' ');
          finish(peerError(code, words.join(' '), 'HELPER_START'));
          return;
        }
        // Anything else is noise from login scripts; keep looking for our lines.
      }
    };
    const onEnd = (): void => {
      void raw.exited.then((code) => {
        const failure = raw.failure?.(code) ?? null;
        if (failure !== null) return finish(failure);
        const refused = become === undefined ? null : sudoRefusal(stderrTail(), become);
        if (refused !== null) return finish(refused);
        const tail = stderrTail().trim().split('\n').slice(-3).join(' / ');
        finish(new HerdError('HELPER_START', `the helper did not start (exit status ${code ?? 'unknown'})${tail === '' ? '' : `: ${tail}`}`));
      });
    };
    if (become?.askPassword === true) {
      // sudo -S -p: its prompt on stderr asks for the password; asked again, it refused the first.
      let seen = '';
      let prompts = 0;
      raw.stderr.on('data', (chunk: Buffer) => {
        seen = (seen + chunk.toString('utf8')).slice(-SUDO_PROMPT.length * 4);
        let at: number;
        while ((at = seen.indexOf(SUDO_PROMPT)) >= 0) {
          seen = seen.slice(at + SUDO_PROMPT.length);
          if (++prompts > 1) {
            finish(new HerdError('BECOME_FAILED', `sudo refused the password (--become-user ${become.user})`, { hint: 'type the SSH login\'s own password at the BECOME password prompt' }));
            raw.close?.();
            return;
          }
          void becomePassword().then((password) => {
            if (settled) return;
            if (password === null) finish(new HerdError('BECOME_FAILED', 'sudo wants a password, and there is no terminal to ask for it (-K)', { hint: 'run herd on a terminal, or let the login sudo without a password (NOPASSWD)' }));
            else raw.stdin.write(`${password}\n`);
          });
        }
      });
    }
    raw.stdout.on('data', onData);
    raw.stdout.on('end', onEnd);
    // A channel handed over paused (the --persist daemon's, after its answer line) flows from here.
    raw.stdout.resume();
  });
}

