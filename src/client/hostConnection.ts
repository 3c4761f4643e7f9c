import { asHerdError, HerdError, isErrorCode } from '../protocol/errors.ts';
import { clientAuth, clientHello, newNonce, type ClientIdentity } from '../protocol/handshake.ts';
import type { JobResult, JobSignal, Message, Role, RunRequest } from '../protocol/messages.ts';
import { Channel, type Session } from '../protocol/session.ts';
import { wireSession } from '../remote/wire.ts';
import type { HelperAsset } from './buildInfo.ts';
import type { HostTarget } from './hosts.ts';
import type { RawChannel } from './transport/channel.ts';
import { runBootstrap } from './transport/bootstrapDialogue.ts';
import { openLocal } from './transport/local.ts';
import { openSsh, type SshOptions } from './transport/ssh.ts';

/** Stderr kept from the host's shell for diagnostics. */
const STDERR_TAIL_BYTES = 4096;

export interface ConnectContext {
  helper: HelperAsset;
  identity: ClientIdentity;
  ssh: SshOptions;
}

export interface JobHandlers {
  started(jobId: string): void;
  /** Output; call `done` once it has been written so the host may send more. */
  output(channel: 1 | 2, bytes: Uint8Array, done: () => void): void;
}

interface PendingJob {
  jobId: string | null;
  handlers: JobHandlers;
  resolve(result: JobResult): void;
  reject(error: HerdError): void;
}

export class RemoteJob {
  readonly result: Promise<JobResult>;
  jobId: string | null = null;
  private readonly connection: HostConnection;
  private readonly stream: number;

  constructor(connection: HostConnection, stream: number, result: Promise<JobResult>) {
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

/** One host: transport, bootstrap, handshake, then any number of jobs over one session. */
export class HostConnection {
  readonly target: HostTarget;
  shipped = false;
  role: Role | null = null;
  private session!: Session;
  private raw!: RawChannel;
  private nextStream = 1;
  private readonly jobs = new Map<number, PendingJob>();
  private readonly drainWaiters: Array<() => void> = [];
  private closedError: HerdError | null = null;

  private constructor(target: HostTarget) {
    this.target = target;
  }

  static async open(target: HostTarget, context: ConnectContext): Promise<HostConnection> {
    const connection = new HostConnection(target);
    try {
      await connection.start(context);
    } catch (err) {
      connection.raw?.close();
      throw asHerdError(err).withHost(target.name);
    }
    return connection;
  }

  private async start(context: ConnectContext): Promise<void> {
    this.raw = this.target.kind === 'local' ? openLocal(context.helper) : await openSsh(this.target, context.helper, context.ssh);
    let stderr = '';
    this.raw.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    const boot = await runBootstrap(this.raw, context.helper, this.target.name, () => stderr);
    this.shipped = boot.shipped;

    const clientNonce = newNonce();
    let handshakeDone!: (error: HerdError | null) => void;
    const handshake = new Promise<void>((resolve, reject) => {
      handshakeDone = (error) => (error === null ? resolve() : reject(error));
    });
    let step: 'hello' | 'welcome' | 'ready' = 'hello';
    this.session = wireSession(this.raw.stdout as never, this.raw.stdin as never, {
      message: (stream, message) => {
        if (stream !== 0) {
          this.onStreamMessage(stream, message);
          return;
        }
        try {
          if (step === 'hello' && message.t === 'hello' && 'hostKey' in message) {
            const { auth } = clientAuth(message, context.identity, clientNonce, Math.floor(Date.now() / 1000), this.target.name);
            this.session.sendMessage(0, auth);
            step = 'welcome';
          } else if (step === 'welcome' && message.t === 'welcome') {
            this.role = message.role;
            step = 'ready';
            handshakeDone(null);
          } else {
            throw new HerdError('PROTOCOL', `unexpected "${message.t}" during the handshake`);
          }
        } catch (err) {
          this.session.fail(asHerdError(err));
        }
      },
      data: (stream, channel, bytes) => {
        const job = this.jobs.get(stream);
        if (job === undefined || channel === Channel.Stdin) {
          this.session.consumed(stream, bytes.length);
          return;
        }
        job.handlers.output(channel, bytes, () => this.session.consumed(stream, bytes.length));
      },
      eof: () => {},
      drain: () => {
        for (const waiter of this.drainWaiters.splice(0)) waiter();
      },
      closed: (error) => {
        const failure = (error ?? new HerdError('CONNECTION_LOST', 'the connection closed')).withHost(this.target.name);
        this.closedError = failure;
        handshakeDone(failure);
        for (const job of this.jobs.values()) {
          const lost =
            job.jobId !== null && failure.code === 'CONNECTION_LOST'
              ? new HerdError('CONNECTION_LOST', `lost the connection; job ${job.jobId} keeps running there`, { host: this.target.name })
              : failure;
          job.reject(lost);
        }
        this.jobs.clear();
        for (const waiter of this.drainWaiters.splice(0)) waiter();
      },
    });
    if (boot.leftover.length > 0) this.session.receive(boot.leftover);
    this.raw.stdout.resume();
    this.session.sendMessage(0, clientHello(clientNonce));
    await handshake;
  }

  run(request: Omit<RunRequest, 't'>, handlers: JobHandlers): RemoteJob {
    if (this.closedError !== null) throw this.closedError;
    const stream = this.nextStream;
    this.nextStream += 2;
    this.session.open(stream);
    let job!: RemoteJob;
    const result = new Promise<JobResult>((resolve, reject) => {
      const tracked: JobHandlers = {
        ...handlers,
        started: (id) => {
          job.jobId = id;
          handlers.started(id);
        },
      };
      this.jobs.set(stream, { jobId: null, handlers: tracked, resolve, reject });
    });
    job = new RemoteJob(this, stream, result);
    this.session.sendMessage(stream, { t: 'run', ...request });
    return job;
  }

  sendToStream(stream: number, message: Message): void {
    if (this.session.hasStream(stream)) this.session.sendMessage(stream, message);
  }

  writeStdin(stream: number, bytes: Uint8Array): boolean {
    return this.session.write(stream, Channel.Stdin, bytes);
  }

  endStdin(stream: number): void {
    this.session.end(stream, Channel.Stdin);
  }

  /** Resolves when the session can take more stdin (or is gone). */
  drained(): Promise<void> {
    if (this.closedError !== null) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  close(): void {
    if (!this.session.isClosed) this.session.shutdown();
    this.raw.close();
  }

  private onStreamMessage(stream: number, message: Message): void {
    const job = this.jobs.get(stream);
    if (job === undefined) return;
    switch (message.t) {
      case 'started':
        job.jobId = message.jobId;
        job.handlers.started(message.jobId);
        return;
      case 'exit':
        this.jobs.delete(stream);
        this.session.close(stream);
        job.resolve(message.result);
        return;
      case 'error':
        this.jobs.delete(stream);
        this.session.close(stream);
        job.reject(new HerdError(isErrorCode(message.code) ? message.code : 'JOB_FAILED', message.message, { host: this.target.name }));
        return;
      default:
        this.session.fail(new HerdError('PROTOCOL', `unexpected "${message.t}" on a job stream`));
    }
  }
}

