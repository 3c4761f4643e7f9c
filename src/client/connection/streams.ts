import type { HerdError } from '../../protocol/errors.ts';
import type { Message } from '../../protocol/messages.ts';

/** How the answers on one stream are taken: messages (say 'end' at the last), output, and the end. */
export interface StreamHandlers {
  message(message: Message): 'more' | 'end';
  /** Output; call `done` once it has been written so the host may send more. */
  data?(channel: 1 | 2, bytes: Uint8Array, done: () => void): void;
  /** Called once: null after the message that said 'end', else why the stream ended (the host's error, a lost connection). */
  ended(error: HerdError | null): void;
}

/**
 * The streams a connection has opened, each a request or a job: where the host's messages and
 * output for it go. Streams are ours, so odd-numbered and never reused.
 */
export class StreamRegistry {
  private readonly open = new Map<number, StreamHandlers>();
  private next = 1;
  private readonly closeStream: (stream: number) => void;

  /** `closeStream` is told of each stream that ended, to close it in the session. */
  constructor(closeStream: (stream: number) => void) {
    this.closeStream = closeStream;
  }

  add(handlers: StreamHandlers): number {
    const stream = this.next;
    this.next += 2;
    this.open.set(stream, handlers);
    return stream;
  }

  /** The handlers of a stream still open. */
  get(stream: number): StreamHandlers | undefined {
    return this.open.get(stream);
  }

  /** A message for `stream`: handled, or its error ending it. `hostError` turns the host's error message into ours. */
  message(stream: number, message: Message, hostError: (message: Extract<Message, { t: 'error' }>) => HerdError): void {
    const handlers = this.open.get(stream);
    if (handlers === undefined) return;
    if (message.t === 'error') this.end(stream, hostError(message));
    else if (handlers.message(message) === 'end') this.end(stream, null);
  }

  /** The connection is gone: every open stream ends with `error`. */
  endAll(error: HerdError): void {
    const open = [...this.open.values()];
    this.open.clear();
    for (const handlers of open) handlers.ended(error);
  }

  private end(stream: number, error: HerdError | null): void {
    const handlers = this.open.get(stream);
    this.open.delete(stream);
    this.closeStream(stream);
    handlers?.ended(error);
  }
}
