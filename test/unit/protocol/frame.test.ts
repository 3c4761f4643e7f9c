import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HerdError } from '../../../src/protocol/errors.ts';
import { encodeFrame, FrameDecoder, FrameType, HEADER_BYTES } from '../../../src/protocol/frame.ts';
import { MAX_FRAME_PAYLOAD } from '../../../src/protocol/limits.ts';

const frames = [
  encodeFrame(FrameType.Message, 0, new TextEncoder().encode('{"t":"hello"}')),
  encodeFrame(FrameType.Data, 7, Uint8Array.of(1, 0, 255, 10, 13)),
  encodeFrame(FrameType.Eof, 7, Uint8Array.of(1)),
  encodeFrame(FrameType.Ping, 0),
  encodeFrame(FrameType.Credit, 3, Uint8Array.of(0, 1, 0, 0)),
];
const wire = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
frames.reduce((offset, f) => (wire.set(f, offset), offset + f.length), 0);

test('header layout: u32 length, u8 type, u32 stream, big-endian', () => {
  const f = encodeFrame(FrameType.Data, 0x01020304, Uint8Array.of(9, 8));
  assert.equal([...f], [0, 0, 0, 2, FrameType.Data, 1, 2, 3, 4, 9, 8]);
  assert.is(HEADER_BYTES, 9);
});

test('decodes the same frames fed one byte at a time', () => {
  const decoder = new FrameDecoder();
  const out = [];
  for (const byte of wire) out.push(...decoder.push(Uint8Array.of(byte)));
  assert.is(out.length, frames.length);
  assert.equal([...out[1]!.payload], [1, 0, 255, 10, 13]);
  assert.is(out[1]!.stream, 7);
  assert.is(decoder.pending, 0);
});

test('decodes the same frames in random splits', () => {
  for (let round = 0; round < 200; round++) {
    const decoder = new FrameDecoder();
    const out = [];
    let offset = 0;
    while (offset < wire.length) {
      const size = 1 + Math.floor(Math.random() * 20);
      out.push(...decoder.push(wire.subarray(offset, offset + size)));
      offset += size;
    }
    assert.equal(out.map((f) => f.type), [FrameType.Message, FrameType.Data, FrameType.Eof, FrameType.Ping, FrameType.Credit]);
    assert.equal(out.map((f) => f.stream), [0, 7, 7, 0, 3]);
  }
});

test('an oversized frame is refused from its header alone, naming both numbers', () => {
  const decoder = new FrameDecoder();
  const header = Uint8Array.of(0xff, 0xff, 0xff, 0xff, FrameType.Data, 0, 0, 0, 1);
  try {
    decoder.push(header);
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, HerdError);
    assert.is((err as HerdError).code, 'PROTOCOL');
    assert.match((err as HerdError).message, String(0xffffffff));
    assert.match((err as HerdError).message, String(MAX_FRAME_PAYLOAD));
  }
  assert.ok(decoder.pending <= HEADER_BYTES);
});

test('an unknown frame type is a protocol error', () => {
  assert.throws(() => new FrameDecoder().push(Uint8Array.of(0, 0, 0, 0, 99, 0, 0, 0, 0)), (e: HerdError) => e.code === 'PROTOCOL');
});

test('encodeFrame refuses a payload above the limit', () => {
  assert.throws(() => encodeFrame(FrameType.Data, 1, new Uint8Array(MAX_FRAME_PAYLOAD + 1)), (e: HerdError) => e.code === 'LIMIT');
});

test.run();
