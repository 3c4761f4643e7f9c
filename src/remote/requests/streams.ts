import type { JobSignal } from '../../protocol/messages.ts';

/** What a stream needs of the job attached to it (Job implements it). */
export interface AttachedJob {
  readonly id: string;
  writeStdin(bytes: Uint8Array, done: () => void): void;
  endStdin(): void;
  /** The client drained: output may flow again. */
  resume(): void;
  /** The client is gone; the job runs on and keeps writing its log. */
  detach(): void;
  signal(signal: JobSignal): void;
}

/** A request still being answered after its handler returned: a wait, a log follower. */
export interface ServedStream {
  close(): void;
  /** The client drained: send more. */
  pump?(): void;
}

/** A request that takes bytes on its stream's stdin channel (an upload being staged). */
export interface ReceivingStream {
  /** Bytes in order; `done` once they are dealt with, so the client may send more. */
  write(bytes: Uint8Array, done: () => void): void;
  end(): void;
  /** The client is gone: undo what is half made. */
  close(): void;
}

type OpenStream = { kind: 'job'; job: AttachedJob } | { kind: 'served'; served: ServedStream } | { kind: 'receiving'; receiving: ReceivingStream };

/**
 * The open streams of one connection, each a job attached to it or a request being served: where
 * stdin, drains, signals and the client's going away are sent.
 */
export class StreamRegistry {
  private readonly open = new Map<number, OpenStream>();

  attach(stream: number, job: AttachedJob): void {
    this.open.set(stream, { kind: 'job', job });
  }

  serve(stream: number, served: ServedStream): void {
    this.open.set(stream, { kind: 'served', served });
  }

  receive(stream: number, receiving: ReceivingStream): void {
    this.open.set(stream, { kind: 'receiving', receiving });
  }

  /** Where `stream`'s stdin goes: its job, or the request receiving it. */
  stdinOf(stream: number): Pick<AttachedJob, 'writeStdin' | 'endStdin'> | undefined {
    const entry = this.open.get(stream);
    if (entry?.kind === 'job') return entry.job;
    if (entry?.kind === 'receiving') return { writeStdin: (bytes, done) => entry.receiving.write(bytes, done), endStdin: () => entry.receiving.end() };
    return undefined;
  }

  has(stream: number): boolean {
    return this.open.has(stream);
  }

  /** The job attached to `stream`, if any. */
  job(stream: number): AttachedJob | undefined {
    const entry = this.open.get(stream);
    return entry?.kind === 'job' ? entry.job : undefined;
  }

  /** The stream is answered: nothing more goes to it. */
  forget(stream: number): void {
    this.open.delete(stream);
  }

  drain(stream: number): void {
    const entry = this.open.get(stream);
    if (entry?.kind === 'job') entry.job.resume();
    else if (entry?.kind === 'served') entry.served.pump?.();
  }

  /** The client went away: its jobs keep running, the requests it was served stop. */
  closeAll(): void {
    for (const entry of this.open.values()) {
      if (entry.kind === 'job') entry.job.detach();
      else if (entry.kind === 'served') entry.served.close();
      else entry.receiving.close();
    }
    this.open.clear();
  }
}
