import { closeSync, constants, openSync, renameSync, writeSync } from 'node:fs';

/**
 * Puts `bytes` at `path` as a new file: written under a temporary name created exclusively with
 * `mode` and never through a symbolic link (a planted one makes this throw), then renamed into
 * place, so a reader sees the old file or the whole new one.
 */
export function replaceFile(path: string, bytes: Uint8Array, mode: number): void {
  const temp = `${path}.${process.pid}`;
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    writeSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}
