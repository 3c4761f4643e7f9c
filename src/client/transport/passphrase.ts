import { HerdError } from '../../protocol/errors.ts';

/** Tries per key file before herd goes on without it. */
const ATTEMPTS = 3;

type TtyIn = NodeJS.ReadStream & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };

/** Whether a person can be asked: stdin and stderr are both terminals. */
export function canPrompt(): boolean {
  return (process.stdin as TtyIn).isTTY === true && (process.stderr as { isTTY?: boolean }).isTTY === true && typeof (process.stdin as TtyIn).setRawMode === 'function';
}

/** One line from the terminal with echo off; null on an empty line or end of input. */
function readHidden(prompt: string): Promise<string | null> {
  const stdin = process.stdin as TtyIn;
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (value: string | null, error?: HerdError): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode!(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error !== undefined) reject(error);
      else resolve(value === '' ? null : value);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish(typed);
        if (ch === '\u0004') return finish(null);
        if (ch === '\u0003') return finish(null, new HerdError('INTERRUPTED', 'interrupted at the passphrase prompt'));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    // Echo off before the prompt shows: what is typed (or pasted) the moment it appears is not echoed.
    stdin.setRawMode!(true);
    process.stderr.write(prompt);
    stdin.on('data', onData);
    stdin.resume();
  });
}

// One prompt at a time, and one answer per key file for all the hosts of a run.
let queue: Promise<unknown> = Promise.resolve();
const answers = new Map<string, Promise<string | null>>();

/**
 * The passphrase of an encrypted key file, asked on the terminal (echo off) once per run however
 * many hosts need it; `works` checks an answer. Null when there is no terminal, the answer was
 * empty, or ATTEMPTS answers were wrong: the key is then skipped and named in SSH_AUTH's message.
 */
export function passphraseFor(file: string, works: (passphrase: string) => boolean): Promise<string | null> {
  if (!canPrompt()) return Promise.resolve(null);
  let answer = answers.get(file);
  if (answer === undefined) {
    answer = queue.then(async () => {
      for (let i = 0; i < ATTEMPTS; i++) {
        const typed = await readHidden(`Enter passphrase for key '${file}': `);
        if (typed === null) return null;
        if (works(typed)) return typed;
        process.stderr.write('herd: wrong passphrase, try again\n');
      }
      return null;
    });
    queue = answer.catch(() => undefined);
    answers.set(file, answer);
  }
  return answer;
}

let becomeAnswer: Promise<string | null> | null = null;

/** The sudo password for --become -K, asked on the terminal (echo off) once per run, the first time a host's sudo wants it. */
export function becomePassword(): Promise<string | null> {
  if (!canPrompt()) return Promise.resolve(null);
  if (becomeAnswer === null) {
    becomeAnswer = queue.then(() => readHidden('BECOME password: '));
    queue = becomeAnswer.catch(() => undefined);
  }
  return becomeAnswer;
}
