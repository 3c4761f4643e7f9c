import { asHerdError, HerdError, toStreamError } from '../../protocol/errors.ts';
import { hostAccept, hostHello, newNonce } from '../../protocol/handshake.ts';
import { keyId } from '../../protocol/cert.ts';
import type { Message, Role } from '../../protocol/messages.ts';
import { allows } from '../../protocol/roles.ts';
import { Channel, type Session } from '../../protocol/session.ts';
import type { AgentState } from './agentState.ts';
import { pinCa, storeHostCert } from './identity.ts';
import { jobTerms, type Job } from '../jobs/job.ts';
import { serveJobRequest, type ServedStreams } from '../requests/jobRequests.ts';
import { scheduleJob } from '../jobs/scheduleJob.ts';
import { startJob } from '../jobs/startJob.ts';
import { wireSession, type ByteReadable, type ByteWritable } from '../../shared/wire.ts';
import { HANDSHAKE_TIMEOUT_MS, MAX_CONNECTIONS_PER_SUBJECT, MAX_FRAME_PAYLOAD, PREAUTH_PING_BYTES, PREAUTH_PINGS } from '../../protocol/limits.ts';

type Phase = { step: 'auth'; hostNonce: string } | { step: 'ready'; subject: string; role: Role };

/**
 * Serves one client connection: the handshake on stream 0, then one job per stream. Until the
 * peer has authenticated it gets HANDSHAKE_TIMEOUT_MS and tiny pings only; `onAuthenticated` lets
 * the agent count it as a client from then on, or refuse it (false: LIMIT).
 */
export function serveConnection(readable: ByteReadable, writable: ByteWritable, agent: AgentState, onAuthenticated: (subject: string) => boolean = () => true): void {
  let phase: Phase = { step: 'auth', hostNonce: newNonce() };
  const attached = new Map<number, Job>();
  const served: ServedStreams = new Map();
  const nowSeconds = (): number => Math.floor(Date.now() / 1000);

  const session: Session = wireSession(readable, writable, {
    message(stream, message) {
      try {
        if (stream === 0) handshake(message);
        else request(stream, message);
      } catch (err) {
        const error = asHerdError(err);
        if (stream === 0 || error.code === 'PROTOCOL') session.fail(error);
        else streamError(stream, error);
      }
    },
    data(stream, channel, bytes) {
      const job = attached.get(stream);
      if (channel !== Channel.Stdin || job === undefined) {
        session.consumed(stream, bytes.length);
        return;
      }
      job.writeStdin(bytes, () => session.consumed(stream, bytes.length));
    },
    eof(stream, channel) {
      if (channel === Channel.Stdin) attached.get(stream)?.endStdin();
    },
    drain(stream) {
      attached.get(stream)?.resume();
      served.get(stream)?.pump?.();
    },
    closed() {
      clearTimeout(deadline);
      // The client went away; its jobs keep running and keep writing their logs.
      for (const job of attached.values()) job.detach();
      attached.clear();
      for (const stream of served.values()) stream.close();
      served.clear();
    },
  });

  session.maxPingBytes = PREAUTH_PING_BYTES;
  session.pingBudget = PREAUTH_PINGS;
  const deadline = setTimeout(() => {
    session.fail(new HerdError('PROTOCOL', `no handshake within ${HANDSHAKE_TIMEOUT_MS / 1000} s`));
  }, HANDSHAKE_TIMEOUT_MS);
  (deadline as { unref?: () => void }).unref?.();

  // The host speaks first, so the client can answer with its proof and first request at once.
  session.sendMessage(0, hostHello(agent.identity, phase.hostNonce));

  function streamError(stream: number, error: HerdError): void {
    session.sendMessage(stream, toStreamError(error));
    session.close(stream);
  }

  function handshake(message: Message): void {
    if (phase.step === 'auth' && message.t === 'auth') {
      const accepted = hostAccept(message, agent.identity, phase.hostNonce, nowSeconds());
      if (!onAuthenticated(accepted.subject)) {
        throw new HerdError('LIMIT', `${accepted.subject} already holds ${MAX_CONNECTIONS_PER_SUBJECT} connections to this host`, { hint: 'use fewer herd processes at once, or --persist to share connections' });
      }
      if (accepted.pinCa !== null) pinCa(agent.paths, agent.identity, accepted.pinCa);
      if (accepted.hostCert !== null) storeHostCert(agent.paths, agent.identity, accepted.hostCert);
      phase = { step: 'ready', subject: accepted.subject, role: accepted.role };
      clearTimeout(deadline);
      session.maxPingBytes = MAX_FRAME_PAYLOAD;
      session.pingBudget = Infinity;
      session.sendMessage(0, {
        t: 'welcome',
        sig: accepted.sig,
        subject: accepted.subject,
        role: accepted.role,
        hostId: keyId(agent.identity.hostKey.publicKey),
        socket: agent.paths.socket,
        agentVersion: agent.version,
      });
      return;
    }
    throw new HerdError('PROTOCOL', `unexpected "${message.t}" during the handshake (step ${phase.step})`);
  }

  function request(stream: number, message: Message): void {
    if (phase.step !== 'ready') throw new HerdError('PROTOCOL', 'a request arrived before the handshake finished');
    const role = phase.role;
    switch (message.t) {
      case 'run': {
        if (!allows(role, 'run')) {
          throw new HerdError('PERMISSION_DENIED', `role "${role}" (${phase.subject}) may not run jobs on this host`, {
            hint: 'use a certificate with role user or admin',
          });
        }
        if (message.network === 'host' && !allows(role, 'leave-sandbox')) {
          throw new HerdError('PERMISSION_DENIED', `role "${role}" (${phase.subject}) may not run jobs in the host's network (--network host)`, {
            hint: 'leaving the sandbox needs an admin certificate; other jobs get a network of their own',
          });
        }
        const terms = jobTerms(phase.subject, message);
        if (message.schedule !== undefined) {
          session.sendMessage(stream, { t: 'jobs', jobs: [scheduleJob(agent, message, terms)] });
          session.close(stream);
          return;
        }
        const job = startJob(agent, message, terms);
        const jobId = job.id;
        agent.book.track(job);
        attached.set(stream, job);
        const done = (): void => {
          attached.delete(stream);
          session.close(stream);
        };
        job.attach({
          started: () => {
            if (message.detach !== true) {
              session.sendMessage(stream, { t: 'started', jobId });
              return;
            }
            // Detached: the job's id and state, and the stream is done; the job runs on alone.
            session.sendMessage(stream, { t: 'jobs', jobs: [job.info()] });
            job.detach();
            done();
          },
          failed: (error) => {
            session.sendMessage(stream, toStreamError(error));
            done();
          },
          data: (channel, bytes) => session.write(stream, channel, bytes),
          exit: (result) => {
            session.sendMessage(stream, { t: 'exit', result });
            done();
          },
        });
        if (message.detach === true) job.endStdin();
        return;
      }
      case 'network-list': {
        if (!allows(role, 'network-list')) throw new HerdError('PERMISSION_DENIED', `role "${role}" may not list networks`);
        session.sendMessage(stream, { t: 'networks', networks: agent.networks.all().map((n) => agent.networks.info(n)) });
        session.close(stream);
        return;
      }
      case 'network-create':
      case 'network-remove': {
        if (!allows(role, 'network-manage')) throw new HerdError('PERMISSION_DENIED', `role "${role}" may not create or remove networks`, { hint: 'use an admin certificate' });
        const work =
          message.t === 'network-create'
            ? agent.networks.create(message.network).then((info) => session.sendMessage(stream, { t: 'networks', networks: [info] }))
            : agent.networks.remove(message.name).then(() => session.sendMessage(stream, { t: 'done' }));
        work.then(
          () => session.close(stream),
          (err: unknown) => streamError(stream, asHerdError(err)),
        );
        return;
      }
      case 'signal': {
        if (!allows(role, 'signal')) throw new HerdError('PERMISSION_DENIED', `role "${role}" may not signal jobs`);
        const job = attached.get(stream);
        if (job === undefined) session.close(stream);
        else job.signal(message.signal);
        return;
      }
      case 'job-list':
      case 'job-status':
      case 'job-wait':
      case 'job-stop':
      case 'job-delete':
      case 'job-prune':
      case 'job-logs':
        serveJobRequest(agent, session, stream, message, { subject: phase.subject, role }, served);
        return;
      default:
        throw new HerdError('PROTOCOL', `unexpected "${message.t}" request`);
    }
  }
}
