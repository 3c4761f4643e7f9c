import { fromUtf8, utf8 } from './bytes.ts';
import { asHerdError, HerdError, peerError } from './errors.ts';
import { encodeDataHeader, encodeFrame, FrameDecoder, FrameType, type DataPiece, type Frame } from './frame.ts';
import { DATA_CHUNK, INITIAL_WINDOW, MAX_FRAME_PAYLOAD, MAX_MESSAGE_BYTES, MAX_STREAM_CREDIT, MAX_STREAMS, WRITE_HIGH_WATER } from './limits.ts';
import { parseMessage, type Message } from './messages.ts';

export const Channel = { Stdin: 0, Stdout: 1, Stderr: 2 } as const;

/** Data frames below this size are reported as small (see SessionEvents.smallData). */
export const SMALL_FRAME_BYTES = 16 * 1024;
export type ChannelValue = (typeof Channel)[keyof typeof Channel];

export interface SessionEvents {
  /** Bytes to put on the wire, in order (a data frame comes as two pieces: its header, then its data). */
  send(bytes: Uint8Array): void;
  message(stream: number, message: Message): void;
  data(stream: number, channel: ChannelValue, bytes: Uint8Array): void;
  eof(stream: number, channel: ChannelValue): void;
  /** A stream's local queue fell below the high-water mark again. */
  drain?(stream: number): void;
  /**
   * Whether the transport takes more stream data now; when it says no, data waits in its stream's
   * queue until `resumeSending`. Control frames are never held back.
   */
  canSend?(): boolean;
  /** A data frame smaller than SMALL_FRAME_BYTES began: output of an interactive kind, not bulk. */
  smallData?(): void;
  /** The session ended: null for a local close, else the fatal error. Called once. */
  closed(error: HerdError | null): void;
}

/** Queued output of a stream: data, an end of channel, or an encoded message that must not overtake the data. */
type Pending =
  | { kind: 'data'; channel: ChannelValue; bytes: Uint8Array }
  | { kind: 'eof'; channel: ChannelValue }
  | { kind: 'frame'; frame: Uint8Array }
  | { kind: 'close' };

interface StreamState {
  /** Bytes we may still send before the peer grants more. */
  sendWindow: number;
  /** Bytes the peer may still send us. */
  receiveWindow: number;
  /** Bytes our consumer has read that we have not yet returned as credit. */
  unreturned: number;
  queue: Pending[];
  queuedBytes: number;
}

/**
 * One multiplexed session over a byte transport. It does no I/O: feed it bytes
 * with `receive`, and it hands bytes to `events.send`. Any violation by the peer
 * goes down the one fatal path: an error frame if possible, then `closed(error)`.
 */
export class Session {
  private readonly decoder = new FrameDecoder(MAX_FRAME_PAYLOAD, { streamData: true });
  private readonly streams = new Map<number, StreamState>();
  private readonly events: SessionEvents;
  private done = false;
  /** Frames received so far; the wiring compares it between heartbeats to spot a silent peer. */
  framesReceived = 0;
  /** Largest Ping payload the peer may send (an agent lowers it until the peer has authenticated). */
  maxPingBytes = MAX_FRAME_PAYLOAD;
  /** Pings the peer may still send (an agent allows a few until the peer has authenticated). */
  pingBudget = Infinity;

  constructor(events: SessionEvents) {
    this.events = events;
  }

  get isClosed(): boolean {
    return this.done;
  }

  get openStreams(): number {
    return this.streams.size;
  }

  receive(chunk: Uint8Array): void {
    if (this.done) return;
    try {
      for (const item of this.decoder.decode(chunk)) {
        if ('piece' in item) {
          if (item.first) this.framesReceived++;
          this.handlePiece(item);
        } else {
          this.framesReceived++;
          this.handle(item);
        }
        if (this.done) return;
      }
    } catch (err) {
      this.fail(asHerdError(err, 'PROTOCOL'));
    }
  }

  /** Registers a stream we initiate. */
  open(stream: number): void {
    if (stream === 0) throw new HerdError('INTERNAL', 'stream 0 is the session');
    if (this.streams.has(stream)) throw new HerdError('INTERNAL', `stream ${stream} is already open`);
    this.streams.set(stream, this.newStream());
  }

  hasStream(stream: number): boolean {
    return this.streams.has(stream);
  }

  /** Forgets a stream once everything queued on it is sent; later data for it is dropped on arrival. */
  close(stream: number): void {
    const state = this.streams.get(stream);
    if (state === undefined) return;
    if (state.queue.length === 0) this.streams.delete(stream);
    else state.queue.push({ kind: 'close' });
  }

  /** Sends a control message; on a stream it is ordered after that stream's queued data. */
  sendMessage(stream: number, message: Message): void {
    if (this.done) return;
    const bytes = utf8(JSON.stringify(message));
    if (bytes.length > MAX_MESSAGE_BYTES) {
      throw new HerdError('LIMIT', `message of ${bytes.length} bytes exceeds the limit of ${MAX_MESSAGE_BYTES}`);
    }
    const frame = encodeFrame(FrameType.Message, stream, bytes);
    const state = this.streams.get(stream);
    if (state === undefined || state.queue.length === 0) {
      this.events.send(frame);
      return;
    }
    state.queue.push({ kind: 'frame', frame });
  }

  /** Queues bytes on a stream channel; returns false when the caller should wait for `drain`. */
  write(stream: number, channel: ChannelValue, bytes: Uint8Array): boolean {
    const state = this.streams.get(stream);
    if (this.done || state === undefined) return false;
    for (let offset = 0; offset < bytes.length; offset += DATA_CHUNK) {
      const piece = bytes.subarray(offset, offset + DATA_CHUNK);
      state.queue.push({ kind: 'data', channel, bytes: piece });
      state.queuedBytes += piece.length;
    }
    this.flush(stream, state);
    return state.queuedBytes < WRITE_HIGH_WATER;
  }

  /** Ends one channel of a stream, after everything queued before it. */
  end(stream: number, channel: ChannelValue): void {
    const state = this.streams.get(stream);
    if (this.done || state === undefined) return;
    state.queue.push({ kind: 'eof', channel });
    this.flush(stream, state);
  }

  /** The transport has room again: send what the streams hold. */
  resumeSending(): void {
    for (const [stream, state] of [...this.streams]) {
      if (this.done) return;
      if (state.queue.length > 0) this.flush(stream, state);
    }
  }

  /** Our consumer has read `count` bytes of the stream: return them to the peer as credit. */
  consumed(stream: number, count: number): void {
    const state = this.streams.get(stream);
    if (this.done || state === undefined || count <= 0) return;
    state.unreturned += count;
    // Returning credit in quarter-window steps keeps the peer streaming without a frame per chunk.
    if (state.unreturned >= INITIAL_WINDOW / 4) {
      const grant = state.unreturned;
      state.unreturned = 0;
      state.receiveWindow += grant;
      const payload = new Uint8Array(4);
      new DataView(payload.buffer).setUint32(0, grant);
      this.events.send(encodeFrame(FrameType.Credit, stream, payload));
    }
  }

  /**
   * Sends an unsolicited Pong, which the peer ignores. It exists to carry a transport-level
   * ACK at once: a ping would provoke a pong that itself waits for an ACK.
   */
  nudge(): void {
    if (!this.done) this.events.send(encodeFrame(FrameType.Pong, 0));
  }

  queued(stream: number): number {
    return this.streams.get(stream)?.queuedBytes ?? 0;
  }

  ping(): void {
    if (!this.done) this.events.send(encodeFrame(FrameType.Ping, 0));
  }

  /** The one fatal path: tell the peer if we still can, then end everything with the same error. */
  fail(error: HerdError): void {
    if (this.done) return;
    try {
      this.events.send(encodeFrame(FrameType.Error, 0, utf8(JSON.stringify({ code: error.code, message: error.message }))));
    } catch {
      // the transport is already gone; the error still reaches our side below
    }
    this.finish(error);
  }

  /** A clean local close. */
  shutdown(): void {
    this.finish(null);
  }

  private finish(error: HerdError | null): void {
    if (this.done) return;
    this.done = true;
    this.streams.clear();
    this.events.closed(error);
  }

  private newStream(): StreamState {
    return { sendWindow: INITIAL_WINDOW, receiveWindow: INITIAL_WINDOW, unreturned: 0, queue: [], queuedBytes: 0 };
  }

  private flush(stream: number, state: StreamState): void {
    const wasAbove = state.queuedBytes >= WRITE_HIGH_WATER;
    while (state.queue.length > 0) {
      const head = state.queue[0]!;
      if (head.kind === 'eof') {
        state.queue.shift();
        this.events.send(encodeFrame(FrameType.Eof, stream, Uint8Array.of(head.channel)));
        continue;
      }
      if (head.kind === 'frame') {
        state.queue.shift();
        this.events.send(head.frame);
        continue;
      }
      if (head.kind === 'close') {
        this.streams.delete(stream);
        return;
      }
      if (state.sendWindow === 0 || this.events.canSend?.() === false) break;
      const take = Math.min(head.bytes.length, state.sendWindow);
      const bytes = head.bytes.subarray(0, take);
      if (take === head.bytes.length) state.queue.shift();
      else head.bytes = head.bytes.subarray(take);
      state.sendWindow -= take;
      state.queuedBytes -= take;
      // Header and data go out as two pieces: the data is never copied into a frame.
      this.events.send(encodeDataHeader(stream, head.channel, take));
      this.events.send(bytes);
    }
    if (wasAbove && state.queuedBytes < WRITE_HIGH_WATER) this.events.drain?.(stream);
  }

  private streamFor(frame: Frame): StreamState | undefined {
    if (frame.stream === 0) throw new HerdError('PROTOCOL', 'stream data on stream 0');
    return this.streams.get(frame.stream);
  }

  private channelOf(frame: Frame): ChannelValue {
    const channel = frame.payload[0];
    if (channel !== 0 && channel !== 1 && channel !== 2) throw new HerdError('PROTOCOL', `unknown channel ${String(channel)}`);
    return channel;
  }

  /** Data arrives in pieces as it comes off the wire; the window is charged for the whole frame at its first piece. */
  private handlePiece(piece: DataPiece): void {
    if (piece.stream === 0) throw new HerdError('PROTOCOL', 'stream data on stream 0');
    const channel = piece.channel;
    if (channel !== 0 && channel !== 1 && channel !== 2) throw new HerdError('PROTOCOL', `unknown channel ${String(channel)}`);
    const state = this.streams.get(piece.stream);
    if (state === undefined) return;
    if (piece.first) {
      if (piece.frameBytes < SMALL_FRAME_BYTES) this.events.smallData?.();
      if (piece.frameBytes > state.receiveWindow) {
        throw new HerdError('FLOW_CONTROL', `peer sent ${piece.frameBytes} bytes with only ${state.receiveWindow} of credit`);
      }
      state.receiveWindow -= piece.frameBytes;
    }
    if (piece.bytes.length > 0) this.events.data(piece.stream, channel, piece.bytes);
  }

  private handle(frame: Frame): void {
    switch (frame.type) {
      case FrameType.Message: {
        // Senders keep to the limit (sendMessage); a larger one is a peer out to fill our memory or a log.
        if (frame.payload.length > MAX_MESSAGE_BYTES) {
          throw new HerdError('LIMIT', `peer sent a message of ${frame.payload.length} bytes, over the limit of ${MAX_MESSAGE_BYTES}`);
        }
        let value: unknown;
        try {
          value = JSON.parse(fromUtf8(frame.payload));
        } catch {
          throw new HerdError('PROTOCOL', 'a control message is not valid JSON');
        }
        const message = parseMessage(value);
        if (frame.stream !== 0 && !this.streams.has(frame.stream)) {
          // The peer opens a stream with its first message.
          if (this.streams.size >= MAX_STREAMS) {
            throw new HerdError('LIMIT', `peer opened more than ${MAX_STREAMS} streams`);
          }
          this.streams.set(frame.stream, this.newStream());
        }
        this.events.message(frame.stream, message);
        return;
      }
      case FrameType.Data: {
        const state = this.streamFor(frame);
        const channel = this.channelOf(frame);
        const bytes = frame.payload.subarray(1);
        if (state === undefined) return;
        if (bytes.length > state.receiveWindow) {
          throw new HerdError('FLOW_CONTROL', `peer sent ${bytes.length} bytes with only ${state.receiveWindow} of credit`);
        }
        state.receiveWindow -= bytes.length;
        if (bytes.length > 0) this.events.data(frame.stream, channel, bytes);
        return;
      }
      case FrameType.Eof: {
        const state = this.streamFor(frame);
        const channel = this.channelOf(frame);
        if (state !== undefined) this.events.eof(frame.stream, channel);
        return;
      }
      case FrameType.Credit: {
        if (frame.payload.length !== 4) throw new HerdError('PROTOCOL', 'credit frame must carry 4 bytes');
        const state = this.streamFor(frame);
        if (state === undefined) return;
        const grant = new DataView(frame.payload.buffer, frame.payload.byteOffset, 4).getUint32(0);
        if (state.sendWindow + grant > MAX_STREAM_CREDIT) {
          throw new HerdError('FLOW_CONTROL', `peer granted ${state.sendWindow + grant} bytes of credit on stream ${frame.stream}, more than the ${MAX_STREAM_CREDIT} it may`);
        }
        state.sendWindow += grant;
        this.flush(frame.stream, state);
        return;
      }
      case FrameType.Error: {
        let code: unknown = 'PROTOCOL';
        let message = 'the peer reported an error';
        try {
          const parsed = JSON.parse(fromUtf8(frame.payload)) as { code?: unknown; message?: unknown };
          code = parsed.code;
          if (typeof parsed.message === 'string') message = parsed.message;
        } catch {
          // an unreadable error frame is still fatal
        }
        this.finish(peerError(code, message, 'PROTOCOL'));
        return;
      }
      case FrameType.Ping:
        if (frame.payload.length > this.maxPingBytes) throw new HerdError('PROTOCOL', `a ping of ${frame.payload.length} bytes (at most ${this.maxPingBytes} here)`);
        if (--this.pingBudget < 0) throw new HerdError('PROTOCOL', 'too many pings');
        // A peer that leaves our output unread gets no pongs: they only tell it we are alive.
        if (this.events.canSend?.() === false) return;
        this.events.send(encodeFrame(FrameType.Pong, 0, frame.payload));
        return;
      case FrameType.Pong:
        return;
    }
  }
}
