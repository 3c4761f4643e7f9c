import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HerdError } from '../../../src/protocol/errors.ts';
import { encodeFrame, FrameType, HEADER_BYTES } from '../../../src/protocol/frame.ts';
import { MAX_FRAME_PAYLOAD } from '../../../src/protocol/limits.ts';
import { Session } from '../../../src/protocol/session.ts';

// A small deterministic PRNG so a failure can be replayed from its seed.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const valid = [
  encodeFrame(FrameType.Message, 0, new TextEncoder().encode(JSON.stringify({ t: 'hello', versions: [1], nonce: 'x', hostKey: 'k', hostCert: null, trustedCa: null }))),
  encodeFrame(FrameType.Message, 1, new TextEncoder().encode(JSON.stringify({ t: 'run', argv: ['a'], env: {} }))),
  encodeFrame(FrameType.Data, 1, Uint8Array.of(0, 1, 2, 3)),
  encodeFrame(FrameType.Credit, 1, Uint8Array.of(0, 0, 1, 0)),
  encodeFrame(FrameType.Eof, 1, Uint8Array.of(0)),
  encodeFrame(FrameType.Ping, 0),
  encodeFrame(FrameType.Error, 0, new TextEncoder().encode('{"code":"PROTOCOL","message":"x"}')),
];

function fuzzOnce(seed: number): void {
  const random = rng(seed);
  let closedWith: HerdError | null | undefined;
  let sent = 0;
  const session = new Session({
    send: (b) => {
      sent += b.length;
    },
    message: () => {},
    data: () => {},
    eof: () => {},
    closed: (e) => {
      closedWith = e;
    },
  });
  for (let step = 0; step < 40 && closedWith === undefined; step++) {
    let chunk: Uint8Array;
    const kind = random();
    if (kind < 0.4) {
      chunk = new Uint8Array(Math.floor(random() * 64)).map(() => Math.floor(random() * 256));
    } else {
      chunk = valid[Math.floor(random() * valid.length)]!.slice();
      const flips = Math.floor(random() * 4);
      for (let i = 0; i < flips; i++) chunk[Math.floor(random() * chunk.length)] = Math.floor(random() * 256);
    }
    session.receive(chunk);
    const pending = (session as unknown as { decoder: { pending: number } }).decoder.pending;
    // Memory stays bounded: the decoder never holds more than one maximal frame.
    assert.ok(pending <= HEADER_BYTES + MAX_FRAME_PAYLOAD, `seed ${seed}: decoder holds ${pending} bytes`);
  }
  if (closedWith !== undefined && closedWith !== null) {
    assert.instance(closedWith, HerdError, `seed ${seed}`);
    assert.ok(['PROTOCOL', 'FLOW_CONTROL', 'LIMIT'].includes(closedWith.code) || closedWith.message === 'x', `seed ${seed}: ${closedWith.code}`);
  }
  assert.ok(sent < 1024 * 1024, `seed ${seed}: replies stay small`);
}

test('random and mutated frames only ever end in protocol errors', () => {
  const seeds = Number(process.env.HERD_FUZZ_ROUNDS ?? 3000);
  for (let seed = 1; seed <= seeds; seed++) fuzzOnce(seed);
});

test.run();
