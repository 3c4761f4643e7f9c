import { asHerdError, type HerdError } from '../../protocol/errors.ts';
import type { CommandContext } from '../commands/context.ts';
import { eachLimited } from './fanout.ts';
import { HostConnection } from './hostConnection.ts';
import type { HostTarget } from '../hosts/targets.ts';

/** One host's answer to a command: its value, or why there is none. */
export interface HostAnswer<T> {
  host: string;
  value: T | null;
  error: HerdError | null;
}

/** Hosts contacted at once by commands other than run. */
const PARALLEL = 64;

/** Connects to each target (in parallel), runs `work` on the connection, and collects the answers in target order. */
export async function eachHost<T>(context: CommandContext, work: (connection: HostConnection, target: HostTarget) => Promise<T>): Promise<Array<HostAnswer<T>>> {
  const answers = context.targets.map((t): HostAnswer<T> => ({ host: t.name, value: null, error: null }));
  await eachLimited(context.targets.map((target, i) => ({ target, answer: answers[i]! })), PARALLEL, async ({ target, answer }) => {
    let connection: HostConnection | undefined;
    try {
      connection = await HostConnection.open(target, context.connect);
      answer.value = await work(connection, target);
    } catch (err) {
      answer.error = asHerdError(err).withHost(target.name);
    } finally {
      connection?.close();
    }
  });
  return answers;
}
