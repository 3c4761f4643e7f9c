import { MAX_UPLOAD_MANIFEST_BYTES } from '../limits.ts';
import { count, fail, str, type Validators } from './check.ts';

/**
 * Stages an upload for a job this connection will run (docs/data.md). On this stream's stdin
 * channel the client sends `manifestBytes` of manifest (uploads/manifest.ts), the host answers
 * `stage-want`, the client sends the content of the wanted files in manifest order and ends
 * stdin, and the host answers `staged` once every byte is stored and checked.
 */
export interface StageRequest { t: 'stage'; manifestBytes: number }
/** The files whose content the host lacks (a bitmap over the manifest's files: encodeWant). */
export interface StageWant { t: 'stage-want'; want: string }
/** The staged upload, ready to be named by a run request (`stage`). */
export interface Staged { t: 'staged'; stage: string; files: number; bytes: number; receivedBytes: number }

export type UploadMessage = StageRequest | StageWant | Staged;

export const UPLOAD_VALIDATORS: Validators<UploadMessage> = {
  stage(o) {
    count(o, 'manifestBytes');
    if ((o.manifestBytes as number) > MAX_UPLOAD_MANIFEST_BYTES) fail(`stage.manifestBytes is over ${MAX_UPLOAD_MANIFEST_BYTES}`);
  },
  'stage-want'(o) {
    str(o, 'want');
  },
  staged(o) {
    str(o, 'stage');
    count(o, 'files');
    count(o, 'bytes');
    count(o, 'receivedBytes');
  },
};
