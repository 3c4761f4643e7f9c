import { asHerdError, fromStreamError, HerdError } from '../../protocol/errors.ts';
import type { ClientIdentity, DialledHost } from '../../protocol/handshake.ts';
import { ClientHandshake } from './clientHandshake.ts';
import { parseCert } from '../../protocol/cert.ts';
import { entryOf, recordIssued } from '../config/issuedRecord.ts';
import type { JobResult, Message, Role, RunRequest } from '../../protocol/messages.ts';
import { StreamRegistry, type StreamHandlers } from './streams.ts';
import { Channel, type Session } from '../../protocol/session.ts';
import { agentTag } from '../../shared/agentPaths.ts';
import { wireSession } from '../../shared/wiredSession.ts';
import type { HelperAsset } from '../buildInfo.ts';
import type { HostTarget } from '../hosts/targets.ts';
import type { RawChannel } from '../transport/channel.ts';
import { runBootstrap, type RuntimeSource } from '../transport/bootstrapDialogue.ts';
import { isRuntimeTarget, runtimeFor } from '../runtime/bunRuntime.ts';
import type { Become } from '../transport/become.ts';
import { becomePassword } from '../transport/passphrase.ts';
import { cachedAgent, isAgentSocketPath, rememberAgent } from '../state/agentCache.ts';
import { connectLocalAgent, openLocal } from '../transport/local.ts';
import { connectSsh } from '../transport/ssh2.ts';
import type { SshConnection, SshOptions } from '../transport/sshConnection.ts';
import { connectOpenSsh } from '../transport/openssh.ts';
import { connectPersisted } from '../persist/persistClient.ts';
import { BULK_BYTES } from '../transport/nodelay.ts';
import { HOST_HANDSHAKE_TIMEOUT_MS } from '../../protocol/limits.ts';
import { join } from 'node:path';
import { localStateDir } from '../state/localState.ts';
import { RemoteJob, type JobChannel, type JobHandlers } from '../jobs/remoteJob.ts';

/** A host's Bun runtime: from the client's cache, or fetched once per run for every host that needs it. */
const runtimeSource: RuntimeSource = (target) => (isRuntimeTarget(target) ? runtimeFor(target, (line) => process.stderr.write(`${line}\n`)) : Promise.resolve(`Bun has no build for ${target}`));

/** Stderr kept from the host's shell for diagnostics. */
const STDERR_TAIL_BYTES = 4096;

export interface ConnectContext {
  helper: HelperAsset;
  identity: ClientIdentity;
  ssh: SshOptions;
  /** The config's path: host certificates signed at enrolment go on record beside it. */
  config: string;
  /** Ask hosts that trust other CAs to add ours (herd host trust): only their herd state's owner may. */
  addCa?: boolean;
}

/** One host: transport, bootstrap, handshake, then any number of jobs over one session. */
export class HostConnection implements JobChannel {
  readonly target: HostTarget;
  shipped = false;
  /** The Bun target whose runtime this contact shipped, or null. */
  shippedRuntime: string | null = null;
  /** Reached the running agent's socket directly, with no bootstrap and no helper process. */
  direct = false;
  /** The SSH connection was already open (held by the --persist daemon): no handshake this time. */
  get reused(): boolean {
    return this.ssh?.reused?.() ?? false;
  }
  /** Milliseconds since the connection began at which each phase ended. */
  readonly phases: Record<string, number> = {};
  private readonly began = performance.now();
  private ssh: SshConnection | null = null;
  role: Role | null = null;
  private verifiedHostKeyId: string | null = null;
  /** This handshake enrolled the host with our CA (the first CA, or one added by herd host trust). */
  enrolledNow = false;
  // Set by start(); close() may run before they exist when connecting fails.
  private session!: Session;
  private raw!: RawChannel;
  private readonly streams = new StreamRegistry((stream) => this.session.close(stream));
  private readonly drainWaiters: Array<() => void> = [];
  private closedError: HerdError | null = null;
  /** Bytes of output received so far, until bulk output is seen (see nodelay.ts). */
  private received = 0;

  private constructor(target: HostTarget) {
    this.target = target;
  }

  static async open(target: HostTarget, context: ConnectContext): Promise<HostConnection> {
    const connection = new HostConnection(target);
    try {
      await connection.start(context);
    } catch (err) {
      connection.close();
      throw asHerdError(err).withHost(target.name);
    }
    return connection;
  }

  /** The key of this host in the agent cache. */
  private cacheKey(): string {
    if (this.target.kind === 'local') return `local:${localStateDir()}`;
    return `${this.target.user}@${this.target.address}:${this.target.port}`;
  }

  private become: Become | undefined;

  /** The names this host's certificate may carry, and the one an enrolment gives it (its address). */
  private dialled(): DialledHost {
    if (this.target.kind === 'local') return { names: ['local'], enrolAs: 'local' };
    const names = [this.target.address, this.target.name, ...(this.target.alias === undefined ? [] : [this.target.alias])];
    return { names: [...new Set(names)], enrolAs: this.target.address };
  }

  /** The agent's socket when it is up: one cheap attempt before falling back to the bootstrap. */
  private async openDirect(helper: HelperAsset): Promise<RawChannel | null> {
    // The agent of --become is another user's: its socket is closed to the SSH login's forwarding.
    if (this.become !== undefined && this.target.kind === 'ssh') return null;
    const cached = cachedAgent(this.cacheKey());
    // Only an agent running our own helper will do; its socket name carries the version.
    const known = cached !== undefined && cached.version === helper.sha256 ? cached.socket : undefined;
    const socketName = `agent-${agentTag(helper.sha256)}.sock`;
    if (this.target.kind === 'local') return connectLocalAgent(known ?? join(localStateDir(), socketName));
    // Root's agent is always there; guess it when a wrong guess costs only a refused channel.
    const guess = known ?? (this.target.user === 'root' && this.ssh!.cheapForward ? `/var/lib/herd/${socketName}` : undefined);
    return guess === undefined ? null : this.ssh!.forward(guess);
  }

  private mark(phase: string): void {
    this.phases[phase] = Math.round(performance.now() - this.began);
  }

  private async start(context: ConnectContext): Promise<void> {
    if (this.target.kind === 'ssh') {
      const ssh = context.ssh;
      // -K: the password is asked before the first host's handshake clock starts (once per run).
      if (ssh.become?.askPassword === true) await becomePassword();
      const persistMs = ssh.persistMs ?? 0;
      if (ssh.transport === 'openssh') this.ssh = connectOpenSsh(this.target, ssh);
      else this.ssh = persistMs > 0 ? connectPersisted(this.target, ssh, persistMs) : await connectSsh(this.target, ssh);
      this.mark('ssh');
    }
    // From here the host has no say in how long herd waits: silence, noise or a flood end at the
    // deadline. The system ssh connects inside the bootstrap, so its connect time counts too.
    const budget = context.ssh.handshakeTimeoutMs ?? HOST_HANDSHAKE_TIMEOUT_MS;
    const opensshConnect = this.target.kind === 'ssh' && context.ssh.transport === 'openssh' ? (this.target.ssh?.connectTimeoutMs ?? context.ssh.connectTimeoutMs) : 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new HerdError('HOST_UNRESPONSIVE', `the host did not finish herd's handshake within ${Math.round(budget / 1000)} s (${this.waitingFor})`, {
          hint: 'run `ssh HOST true` to see what the host does after login (a login script that waits or prints, a ForceCommand); --handshake-timeout sets the deadline',
        }));
      }, budget + opensshConnect);
    });
    const handshake = this.handshake(context);
    handshake.catch(() => {});
    try {
      await Promise.race([handshake, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** What the handshake waits for now, for the deadline's message. */
  private waitingFor = 'waiting for the bootstrap to start';

  private async handshake(context: ConnectContext): Promise<void> {
    this.become = context.ssh.become;
    const direct = await this.openDirect(context.helper);
    this.mark(direct === null ? 'directRefused' : 'direct');
    this.direct = direct !== null;
    this.raw = direct ?? (this.ssh === null ? openLocal(context.helper, context.ssh.shipRuntime) : await this.ssh.bootstrap(context.helper, this.become));
    let stderr = '';
    this.raw.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    this.waitingFor = 'waiting for the bootstrap\'s answer';
    const become = this.ssh === null ? undefined : this.become;
    const boot =
      direct !== null
        ? { leftover: new Uint8Array(0), shipped: false, shippedRuntime: null }
        : await runBootstrap(this.raw, context.helper, this.target.name, () => stderr, become, runtimeSource, (what) => (this.waitingFor = what));
    this.waitingFor = 'waiting for the helper\'s hello';
    if (direct !== null) this.raw.stdout.pause();
    else this.mark('bootstrap');
    this.shipped = boot.shipped;
    this.shippedRuntime = boot.shippedRuntime;

    const dialled = { ...this.dialled(), ...(context.addCa === true ? { addCa: true } : {}) };
    const handshake = new ClientHandshake(context.identity, dialled);
    // Resolves once the host's welcome, with its live proof, is checked: nothing of a job (its
    // command, environment, stdin) leaves before the host has proved who it is.
    let welcomed!: (error: HerdError | null) => void;
    const verified = new Promise<void>((resolve, reject) => {
      welcomed = (error) => (error === null ? resolve() : reject(error));
    });
    let nudgePending = false;
    this.session = wireSession(this.raw.stdout as never, this.raw.stdin as never, {
      message: (stream, message) => {
        if (stream !== 0) {
          if (!handshake.done) this.session.fail(new HerdError('PROTOCOL', 'a job message arrived before the welcome'));
          else {
            try {
              this.streams.message(stream, message, (error) => fromStreamError(error, 'JOB_FAILED', this.target.name));
            } catch (err) {
              this.session.fail(asHerdError(err));
            }
          }
          return;
        }
        try {
          const step = handshake.receive(message, Math.floor(Date.now() / 1000));
          if (step.kind === 'auth') {
            this.enrolledNow = step.enrolled;
            if (step.auth.hostCert !== undefined) recordIssued(context.config, entryOf(parseCert(step.auth.hostCert).body, new Date(), this.target.name));
            this.session.sendMessage(0, step.auth);
            this.mark('auth');
            this.waitingFor = 'waiting for the host\'s welcome';
            return;
          }
          const { welcome } = step;
          this.role = welcome.role;
          this.verifiedHostKeyId = step.hostKeyId;
          this.mark('welcome');
          // Where to reach this agent next time: only a path of herd's own shape, for our helper.
          if (isAgentSocketPath(welcome.socket, context.helper.sha256)) rememberAgent(this.cacheKey(), { socket: welcome.socket, version: welcome.agentVersion });
          welcomed(null);
        } catch (err) {
          this.session.fail(asHerdError(err));
        }
      },
      data: (stream, channel, bytes) => {
        // The bootstrap's exec already turned sshd's Nagle off; a forwarded channel alone did not.
        if (this.direct && this.received < BULK_BYTES && (this.received += bytes.length) >= BULK_BYTES) this.ssh?.bulk?.();
        const taker = this.streams.get(stream);
        if (taker?.data === undefined || channel === Channel.Stdin) this.session.consumed(stream, bytes.length);
        else taker.data(channel, bytes, () => this.session.consumed(stream, bytes.length));
      },
      eof: () => {},
      // sshd sends forwarded channels with Nagle on: after a small piece of output, its next small
      // packet (more output, the exit) would wait for our delayed ACK (40 ms). An unsolicited Pong
      // carries the ACK at once; bulk output (large frames) needs none.
      smallData: () => {
        if (nudgePending) return;
        nudgePending = true;
        setImmediate(() => {
          nudgePending = false;
          this.session.nudge();
        });
      },
      drain: () => {
        for (const waiter of this.drainWaiters.splice(0)) waiter();
      },
      closed: (error) => {
        const failure = (error ?? new HerdError('CONNECTION_LOST', 'the connection closed')).withHost(this.target.name);
        this.closedError = failure;
        welcomed(failure);
        this.streams.endAll(failure);
        for (const waiter of this.drainWaiters.splice(0)) waiter();
      },
    });
    if (boot.leftover.length > 0) this.session.receive(boot.leftover);
    this.raw.stdout.resume();
    // Acknowledge sshd's channel confirmation now, so the host's hello is not held behind it (Nagle).
    this.session.nudge();
    await verified;
  }

  run(request: Omit<RunRequest, 't'>, handlers: JobHandlers): RemoteJob {
    if (this.closedError !== null) throw this.closedError;
    let job!: RemoteJob;
    let outcome: JobResult | null = null;
    let settle!: { resolve(result: JobResult): void; reject(error: HerdError): void };
    const result = new Promise<JobResult>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const stream = this.streams.add({
      message: (message) => {
        switch (message.t) {
          case 'started':
            job.jobId = message.jobId;
            // sshd's forwarded channels run with Nagle: our ACK of this message would wait for the
            // delayed-ACK timer (40 ms) and hold back the host's next small frame (often the exit).
            this.session.nudge();
            handlers.started(message.jobId);
            return 'more';
          case 'exit':
            outcome = message.result;
            return 'end';
          default:
            throw new HerdError('PROTOCOL', `unexpected "${message.t}" on a job stream`);
        }
      },
      data: (channel, bytes, done) => handlers.output(channel, bytes, done),
      ended: (error) => {
        if (error === null) settle.resolve(outcome!);
        else if (error === this.closedError && error.code === 'CONNECTION_LOST' && job.jobId !== null) {
          settle.reject(new HerdError('CONNECTION_LOST', `lost the connection; job ${job.jobId} keeps running there`, { host: this.target.name }));
        } else settle.reject(error);
      },
    });
    this.session.open(stream);
    job = new RemoteJob(this, stream, result);
    this.session.sendMessage(stream, { t: 'run', ...request });
    return job;
  }

  /** A one-shot request (network create, job status...): the host's one answer, or its error. */
  async request(message: Message): Promise<Message> {
    let answer: Message | null = null;
    await this.requestStream(message, {
      message: (reply) => {
        answer = reply;
        return 'end';
      },
    });
    return answer!;
  }

  /**
   * A request answered by several messages and perhaps output (job logs, job list): each
   * message goes to `handlers.message` until it says 'end'; an error message rejects.
   */
  requestStream(message: Message, handlers: Omit<StreamHandlers, 'ended'>): Promise<void> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const stream = this.streams.add({ ...handlers, ended: (error) => (error === null ? resolve() : reject(error)) });
      this.session.open(stream);
      this.session.sendMessage(stream, message);
    });
  }

  /**
   * A request whose stream carries bytes of ours too (an upload: writeStdin, endStdin on the
   * stream returned); its answers go to `handlers` as with requestStream.
   */
  openRequest(message: Message, handlers: StreamHandlers): number {
    if (this.closedError !== null) throw this.closedError;
    const stream = this.streams.add(handlers);
    this.session.open(stream);
    this.session.sendMessage(stream, message);
    return stream;
  }

  /** The key id of the host key the host proved it holds in the handshake: what to remember it by. */
  hostKeyId(): string {
    if (this.verifiedHostKeyId === null) throw new HerdError('INTERNAL', 'no verified host key before the welcome');
    return this.verifiedHostKeyId;
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
    if (this.session?.isClosed === false) this.session.shutdown();
    this.raw?.close();
    this.ssh?.close();
  }
}
