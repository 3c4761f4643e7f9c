import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { utf8 } from '../../src/protocol/bytes.ts';
import { encodeFrame, FrameDecoder, FrameType } from '../../src/protocol/frame.ts';
import { clientAuth, newNonce } from '../../src/protocol/handshake.ts';
import type { HostHello } from '../../src/protocol/messages.ts';
import { clientIdentity, loadConfig } from '../../src/client/config/config.ts';

/*
 * A client that speaks the frames itself, to send what herd's own client never would: it
 * authenticates with the test's real certificate, then writes whatever frames a test hands it.
 */
export interface RawClient {
  socket: Socket;
  /** The next control message on `stream` (an error message included), or null if the agent hung up first. */
  message(stream: number, timeoutMs?: number): Promise<Record<string, unknown> | null>;
  send(stream: number, message: Record<string, unknown>): void;
  data(stream: number, bytes: Uint8Array): void;
  eof(stream: number): void;
  close(): void;
}

/** The socket of the one agent of a state directory. */
export function agentSocket(state: string): string {
  return join(state, readdirSync(state).find((f) => f.endsWith('.sock'))!);
}

export async function rawClient(socketPath: string, configPath: string): Promise<RawClient> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect(socketPath);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
  socket.on('error', () => {});
  const decoder = new FrameDecoder(1024 * 1024);
  const queues = new Map<number, Array<Record<string, unknown>>>();
  const waiters = new Map<number, (m: Record<string, unknown> | null) => void>();
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    for (const frame of decoder.decode(chunk)) {
      if ('piece' in frame || (frame.type !== FrameType.Message && frame.type !== FrameType.Error)) continue;
      const message = JSON.parse(Buffer.from(frame.payload).toString()) as Record<string, unknown>;
      const waiter = waiters.get(frame.stream);
      if (waiter !== undefined) {
        waiters.delete(frame.stream);
        waiter(message);
      } else queues.set(frame.stream, [...(queues.get(frame.stream) ?? []), message]);
    }
  });
  socket.once('close', () => {
    closed = true;
    for (const waiter of waiters.values()) waiter(null);
    waiters.clear();
  });
  const message = (stream: number, timeoutMs = 20_000): Promise<Record<string, unknown> | null> => {
    const queued = queues.get(stream)?.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiters.delete(stream);
        resolve(null);
      }, timeoutMs);
      waiters.set(stream, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  };
  const hello = (await message(0)) as unknown as HostHello;
  const loaded = loadConfig(configPath);
  const identity = clientIdentity(loaded.config.identity!, loaded.path);
  const { auth } = clientAuth(hello, identity, newNonce(), Math.floor(Date.now() / 1000), { names: ['local'], enrolAs: 'local' });
  socket.write(encodeFrame(FrameType.Message, 0, utf8(JSON.stringify(auth))));
  const welcome = await message(0);
  if (welcome?.t !== 'welcome') throw new Error(`no welcome: ${JSON.stringify(welcome)}`);
  return {
    socket,
    message,
    send: (stream, m) => void socket.write(encodeFrame(FrameType.Message, stream, utf8(JSON.stringify(m)))),
    data: (stream, bytes) => {
      for (let at = 0; at < bytes.length || at === 0; at += 60_000) {
        const piece = bytes.subarray(at, at + 60_000);
        const payload = new Uint8Array(piece.length + 1);
        payload.set(piece, 1);
        socket.write(encodeFrame(FrameType.Data, stream, payload));
        if (bytes.length === 0) break;
      }
    },
    eof: (stream) => void socket.write(encodeFrame(FrameType.Eof, stream, new Uint8Array([0]))),
    close: () => socket.destroy(),
  };
}
