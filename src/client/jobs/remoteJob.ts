import type { JobResult, JobSignal, Message } from '../../protocol/messages.ts';

export interface JobHandlers {
  started(jobId: string): void;
  /** Output; call `done` once it has been written so the host may send more. */
  output(channel: 1 | 2, bytes: Uint8Array, done: () => void): void;
}

/** What a job handle needs from the connection that carries it. */
export interface JobChannel {
  sendToStream(stream: number, message: Message): void;
  writeStdin(stream: number, bytes: Uint8Array): boolean;
  endStdin(stream: number): void;
}

/** A job started on a host: its result, and the ways to signal it and feed its stdin. */
export class RemoteJob {
  readonly result: Promise<JobResult>;
  jobId: string | null = null;
  private readonly connection: JobChannel;
  private readonly stream: number;

  constructor(connection: JobChannel, stream: number, result: Promise<JobResult>) {
    this.connection = connection;
    this.stream = stream;
    this.result = result;
  }

  signal(signal: JobSignal): void {
    this.connection.sendToStream(this.stream, { t: 'signal', signal });
  }

  /** false: wait for the connection's drain before writing more. */
  writeStdin(bytes: Uint8Array): boolean {
    return this.connection.writeStdin(this.stream, bytes);
  }

  endStdin(): void {
    this.connection.endStdin(this.stream);
  }
}
