import type { Socket } from 'node:net';
import { takeLine } from './persistProtocol.ts';

/**
 * The first line a socket sends and the bytes after it, with the socket left paused so nothing
 * that follows is lost; null when it closes first. A line past MAX_PERSIST_LINE rejects (PROTOCOL).
 */
export function firstLine(socket: Socket): Promise<{ line: string; rest: Buffer } | null> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onClose = (): void => resolve(null);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      let taken: ReturnType<typeof takeLine>;
      try {
        taken = takeLine(buffered);
      } catch (err) {
        socket.removeListener('data', onData);
        reject(err);
        return;
      }
      if (taken === null) return;
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      socket.pause();
      resolve(taken);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
