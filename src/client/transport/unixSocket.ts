import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { RawChannel } from './channel.ts';

/** A connection to a unix socket; null when nothing answers there. */
export function dialUnix(path: string): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('error', () => resolve(null));
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

/** A connected socket as a channel: protocol bytes both ways, no stderr, no exit status. */
export function socketChannel(socket: Socket, close: () => void = () => socket.end()): RawChannel {
  socket.on('error', () => socket.destroy());
  const exited = new Promise<number | null>((resolve) => socket.once('close', () => resolve(null)));
  return { stdout: socket, stderr: Readable.from([]), stdin: socket, exited, close };
}
