import { keyId } from '../../protocol/cert.ts';
import { HerdError } from '../../protocol/errors.ts';
import { clientAuth, clientCheckWelcome, newNonce, type ClientIdentity, type ClientPending, type DialledHost } from '../../protocol/handshake.ts';
import type { Auth, HostHello, Message, Welcome } from '../../protocol/messages.ts';

/** What a message of the handshake came to: our auth to send, or the host's welcome, checked. */
export type HandshakeStep =
  | { kind: 'auth'; auth: Auth; hello: HostHello; enrolled: boolean }
  /** `hostKeyId`: the key id of the key the host proved it holds (the welcome's own hostId is only what it says). */
  | { kind: 'welcome'; welcome: Welcome; hostKeyId: string };

/**
 * The client's half of herd's handshake on stream 0 (protocol/handshake.ts), as a step machine
 * with no I/O: the host's hello is answered with our proof, its welcome must prove it holds its
 * key, and anything else, or out of turn, is a PROTOCOL error.
 */
export class ClientHandshake {
  private step: 'hello' | 'welcome' | 'ready' = 'hello';
  private readonly nonce = newNonce();
  private pending: ClientPending | null = null;
  private readonly identity: ClientIdentity;
  private readonly dialled: DialledHost;

  constructor(identity: ClientIdentity, dialled: DialledHost) {
    this.identity = identity;
    this.dialled = dialled;
  }

  /** The welcome was checked: requests may go out. */
  get done(): boolean {
    return this.step === 'ready';
  }

  receive(message: Message, nowSeconds: number): HandshakeStep {
    if (this.step === 'hello' && message.t === 'hello') {
      const answer = clientAuth(message, this.identity, this.nonce, nowSeconds, this.dialled);
      this.pending = answer.pending;
      this.step = 'welcome';
      return { kind: 'auth', auth: answer.auth, hello: message, enrolled: answer.enrolled };
    }
    if (this.step === 'welcome' && message.t === 'welcome' && this.pending !== null) {
      clientCheckWelcome(message, this.pending);
      this.step = 'ready';
      return { kind: 'welcome', welcome: message, hostKeyId: keyId(this.pending.hostKey) };
    }
    throw new HerdError('PROTOCOL', `unexpected "${message.t}" during the handshake`);
  }
}
