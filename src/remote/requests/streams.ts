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

type OpenStream = { kind: 'job'; job: AttachedJob } | { kind: 'served'; served: ServedStream };

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
    else entry?.served.pump?.();
  }

  /** The client went away: its jobs keep running, the requests it was served stop. */
  closeAll(): void {
    for (const entry of this.open.values()) {
      if (entry.kind === 'job') entry.job.detach();
      else entry.served.close();
    }
    this.open.clear();
  }
}
