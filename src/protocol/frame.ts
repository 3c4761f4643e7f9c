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
 * Incremental decoder. It keeps only the unconsumed tail; "need more bytes"
 * is a normal return (an empty list), never an exception.
 */
export class FrameDecoder {
  private buffer: Uint8Array = new Uint8Array(0);
  private readonly maxPayload: number;

  constructor(maxPayload: number = MAX_FRAME_PAYLOAD) {
    this.maxPayload = maxPayload;
  }

  /** Bytes held waiting for the rest of a frame. */
  get pending(): number {
    return this.buffer.length;
  }

  push(chunk: Uint8Array): Frame[] {
    let data: Uint8Array;
    if (this.buffer.length === 0) {
      data = chunk;
    } else {
      data = new Uint8Array(this.buffer.length + chunk.length);
      data.set(this.buffer, 0);
      data.set(chunk, this.buffer.length);
    }
    const frames: Frame[] = [];
    let offset = 0;
    while (data.length - offset >= HEADER_BYTES) {
      const view = new DataView(data.buffer, data.byteOffset + offset, HEADER_BYTES);
      const length = view.getUint32(0);
      const type = view.getUint8(4);
      if (length > this.maxPayload) {
        throw new HerdError('PROTOCOL', `frame of ${length} bytes exceeds the limit of ${this.maxPayload}`);
      }
      if (!FRAME_TYPES.has(type)) {
        throw new HerdError('PROTOCOL', `unknown frame type ${type}`);
      }
      if (data.length - offset < HEADER_BYTES + length) break;
      const start = offset + HEADER_BYTES;
      // Copy so a frame outlives the chunk it arrived in and the tail is not pinned.
      frames.push({ type: type as FrameTypeValue, stream: view.getUint32(5), payload: data.slice(start, start + length) });
      offset = start + length;
    }
    this.buffer = offset === data.length ? new Uint8Array(0) : data.slice(offset);
    return frames;
  }
}
