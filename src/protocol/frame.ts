import { HerdError } from './errors.ts';
import { MAX_FRAME_PAYLOAD } from './limits.ts';

/*
 * Byte layout of one frame (all integers big-endian):
 *
 *   0       4      5          9
 *   | len   | type | stream   | payload (len bytes) ...
 *
 * `len` counts the payload only, so the header is always 9 bytes and a
 * receiver can reject an oversized frame before buffering any of it.
 */
export const HEADER_BYTES = 9;

export const FrameType = {
  /** A JSON control message (UTF-8). Stream 0 is the session itself. */
  Message: 1,
  /** Stream bytes: payload[0] is the channel (0 stdin, 1 stdout, 2 stderr), the rest is data. */
  Data: 2,
  /** End of one channel of a stream: payload[0] is the channel. */
  Eof: 3,
  /** Flow-control credit: a u32 number of bytes the sender may now send on the stream. */
  Credit: 4,
  /** Fatal session error: JSON {code, message}; the sender closes after it. */
  Error: 5,
  Ping: 6,
  Pong: 7,
} as const;

export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

const FRAME_TYPES = new Set<number>(Object.values(FrameType));

export interface Frame {
  type: FrameTypeValue;
  stream: number;
  payload: Uint8Array;
}

export function encodeFrame(type: FrameTypeValue, stream: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (payload.length > MAX_FRAME_PAYLOAD) {
    throw new HerdError('LIMIT', `frame payload of ${payload.length} bytes exceeds the limit of ${MAX_FRAME_PAYLOAD}`);
  }
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length);
  view.setUint8(4, type);
  view.setUint32(5, stream >>> 0);
  out.set(payload, HEADER_BYTES);
  return out;
}

/**
 * The header of a data frame and its channel byte: sent ahead of the data itself, so a sender
 * never copies the bytes it forwards into a frame of their own.
 */
export function encodeDataHeader(stream: number, channel: number, length: number): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + 1);
  const view = new DataView(out.buffer);
  view.setUint32(0, length + 1);
  view.setUint8(4, FrameType.Data);
  view.setUint32(5, stream >>> 0);
  out[HEADER_BYTES] = channel;
  return out;
}

/** Part of a data frame's bytes, handed on as it arrives (see FrameDecoder's `streamData`). */
export interface DataPiece {
  piece: true;
  stream: number;
  channel: number;
  bytes: Uint8Array;
  /** The first piece of its frame, which carries the frame's whole data length. */
  first: boolean;
  frameBytes: number;
}

/**
 * Incremental decoder. "Need more bytes" is a normal return (an empty list), never an exception.
 * Each payload byte is copied at most once: a frame that lies whole in one chunk is a view of it,
 * and one split across chunks is assembled in a buffer of its exact size, allocated only once its
 * header (and so its checked length) is known. With `streamData`, data frames are not assembled
 * at all: their bytes come out as pieces, views of the chunks they arrived in.
 */
export class FrameDecoder {
  private readonly header = new Uint8Array(HEADER_BYTES);
  private headerFill = 0;
  private partial: { type: FrameTypeValue; stream: number; payload: Uint8Array; fill: number } | null = null;
  private data: { stream: number; channel: number; remaining: number; frameBytes: number; first: boolean } | null = null;
  private readonly maxPayload: number;
  private readonly streamData: boolean;

  constructor(maxPayload: number = MAX_FRAME_PAYLOAD, options: { streamData?: boolean } = {}) {
    this.maxPayload = maxPayload;
    this.streamData = options.streamData === true;
  }

  /** Bytes held waiting for the rest of a frame. */
  get pending(): number {
    return this.headerFill + (this.partial?.fill ?? 0);
  }

  push(chunk: Uint8Array): Frame[] {
    return this.decode(chunk) as Frame[];
  }

  /** As push, with data frames as pieces (only with `streamData`). */
  decode(chunk: Uint8Array): Array<Frame | DataPiece> {
    const out: Array<Frame | DataPiece> = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.data !== null) {
        const data = this.data;
        if (data.channel < 0) {
          data.channel = chunk[offset]!;
          offset++;
          if (data.remaining === 0) {
            out.push({ piece: true, stream: data.stream, channel: data.channel, bytes: new Uint8Array(0), first: true, frameBytes: 0 });
            this.data = null;
          }
          continue;
        }
        const take = Math.min(data.remaining, chunk.length - offset);
        out.push({ piece: true, stream: data.stream, channel: data.channel, bytes: chunk.subarray(offset, offset + take), first: data.first, frameBytes: data.frameBytes });
        data.first = false;
        data.remaining -= take;
        offset += take;
        if (data.remaining === 0) this.data = null;
        continue;
      }
      if (this.partial === null) {
        let head: Uint8Array;
        if (this.headerFill === 0 && chunk.length - offset >= HEADER_BYTES) {
          head = chunk.subarray(offset, offset + HEADER_BYTES);
          offset += HEADER_BYTES;
        } else {
          const take = Math.min(HEADER_BYTES - this.headerFill, chunk.length - offset);
          this.header.set(chunk.subarray(offset, offset + take), this.headerFill);
          this.headerFill += take;
          offset += take;
          if (this.headerFill < HEADER_BYTES) break;
          this.headerFill = 0;
          head = this.header;
        }
        const view = new DataView(head.buffer, head.byteOffset, HEADER_BYTES);
        const length = view.getUint32(0);
        const type = view.getUint8(4);
        if (length > this.maxPayload) {
          throw new HerdError('PROTOCOL', `frame of ${length} bytes exceeds the limit of ${this.maxPayload}`);
        }
        if (!FRAME_TYPES.has(type)) {
          throw new HerdError('PROTOCOL', `unknown frame type ${type}`);
        }
        const stream = view.getUint32(5);
        if (this.streamData && type === FrameType.Data && length > 0) {
          this.data = { stream, channel: -1, remaining: length - 1, frameBytes: length - 1, first: true };
          continue;
        }
        if (chunk.length - offset >= length) {
          out.push({ type: type as FrameTypeValue, stream, payload: chunk.subarray(offset, offset + length) });
          offset += length;
          continue;
        }
        this.partial = { type: type as FrameTypeValue, stream, payload: new Uint8Array(length), fill: 0 };
      }
      const partial = this.partial;
      const take = Math.min(partial.payload.length - partial.fill, chunk.length - offset);
      partial.payload.set(chunk.subarray(offset, offset + take), partial.fill);
      partial.fill += take;
      offset += take;
      if (partial.fill === partial.payload.length) {
        out.push({ type: partial.type, stream: partial.stream, payload: partial.payload });
        this.partial = null;
      }
    }
    return out;
  }
}
