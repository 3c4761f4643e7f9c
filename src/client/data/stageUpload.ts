import { asHerdError, HerdError } from '../../protocol/errors.ts';
import type { Message, Staged } from '../../protocol/messages.ts';
import { decodeWant, encodeManifest, type UploadEntry } from '../../protocol/uploads/manifest.ts';
import type { HostConnection } from '../connection/hostConnection.ts';
import type { HashCache } from './hashCache.ts';
import type { ReadingHost, SharedReads } from './sharedReads.ts';
import type { LocalFile, UploadSet } from './uploadSet.ts';

/** What one host's upload did: the files and bytes of the upload, and the content bytes it was sent. */
export interface UploadReport {
  files: number;
  bytes: number;
  sentBytes: number;
}

/**
 * Stages `set` on one host (protocol: messages/uploads.ts): the manifest (with the hashes the
 * cache knows), then the content of each file the host asks for, as the stream's credit allows,
 * from reads shared with the run's other hosts (sharedReads.ts), hashed on the way for the cache. Resolves with the stage to name in the run.
 */
export function stageUpload(connection: HostConnection, set: UploadSet, cache: HashCache, reads: SharedReads, host: ReadingHost, onSent: (bytes: number) => void = () => {}): Promise<{ stage: string; report: UploadReport }> {
  const known = new Map<LocalFile, string>();
  for (const file of set.files) {
    const sha256 = cache.lookup(file);
    if (sha256 !== undefined) known.set(file, sha256);
  }
  const byEntry = new Map<UploadEntry, LocalFile>(set.files.map((f) => [f.entry, f]));
  const manifest = encodeManifest(set.entries.map((e) => {
    const file = byEntry.get(e);
    const sha256 = file === undefined ? undefined : known.get(file);
    return sha256 === undefined ? e : { ...e, sha256 };
  }));
  return new Promise((resolve, reject) => {
    let staged: Staged | null = null;
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      reject(asHerdError(err).withHost(connection.target.name));
    };
    const write = async (bytes: Uint8Array): Promise<void> => {
      if (!connection.writeStdin(stream, bytes)) await connection.drained();
    };
    const sendContent = async (want: boolean[]): Promise<void> => {
      reads.hostWants(host, set.files.filter((_, i) => want[i]));
      for (let i = 0; i < set.files.length; i++) {
        if (!want[i] || failed) continue;
        for await (const bytes of reads.chunks(set.files[i]!, host)) {
          await write(bytes);
          onSent(bytes.length);
          if (failed) return;
        }
      }
      connection.endStdin(stream);
    };
    const stream = connection.openRequest({ t: 'stage', manifestBytes: manifest.length }, {
      message: (message: Message) => {
        if (message.t === 'stage-want') {
          sendContent(decodeWant(message.want, set.files.length)).catch(fail);
          return 'more';
        }
        if (message.t === 'staged') {
          staged = message;
          return 'end';
        }
        throw new HerdError('PROTOCOL', `unexpected "${message.t}" while uploading`);
      },
      ended: (error) => {
        if (error !== null) fail(error);
        else if (staged === null) fail(new HerdError('PROTOCOL', 'the upload ended without the host saying it was staged'));
        else resolve({ stage: staged.stage, report: { files: staged.files, bytes: staged.bytes, sentBytes: staged.receivedBytes } });
      },
    });
    void write(manifest).catch(fail);
  });
}
