import { asHerdError, HerdError } from '../../protocol/errors.ts';
import type { StageRequest } from '../../protocol/messages.ts';
import { decodeManifest, encodeWant, type UploadEntry } from '../../protocol/uploads/manifest.ts';
import { BlobStore, type BlobWriter } from '../data/blobStore.ts';
import { EMPTY_SHA256, spaceProblem } from '../data/materialize.ts';
import { saveStage, type Stage } from '../data/stageStore.ts';
import { MAX_STAGES_AT_ONCE } from '../../protocol/limits.ts';
import { answer, answerError, type RequestContext } from './context.ts';

type FileEntry = Extract<UploadEntry, { kind: 'file' }>;

/** Uploads being staged on this agent now (MAX_STAGES_AT_ONCE). */
let staging = 0;

/**
 * Stages an upload: the manifest on this stream's stdin, the want list back, then the wanted
 * content, each file stored by hash as it arrives (bounded memory: one chunk at a time, paced by
 * the stream's credit). Nothing lands in any job here; a run request names the stage.
 */
export function handleStage(request: StageRequest, context: RequestContext): void {
  // Each stage holds up to its manifest and a MiB of writes in the agent's memory: a client that
  // opens stages and never ends them must not be able to take more than this.
  if (staging >= MAX_STAGES_AT_ONCE) {
    throw new HerdError('LIMIT', `this host is staging ${MAX_STAGES_AT_ONCE} uploads already`, { hint: 'run fewer uploads to this host at once (-f), or try again' });
  }
  staging++;
  const receiver = new StageReceiver(request.manifestBytes, context, () => staging--);
  context.streams.receive(context.stream, receiver);
  // An empty manifest is complete before any byte comes.
  if (request.manifestBytes === 0) receiver.write(new Uint8Array(0), () => {});
}

class StageReceiver {
  private readonly manifestBytes: number;
  /** The manifest as it arrives: held only as far as it has come, never its announced size ahead. */
  private manifestPieces: Uint8Array[] = [];
  private manifestGot = 0;
  private released = false;
  private entries: UploadEntry[] = [];
  /** The wanted files in manifest order, and where the content has got to. */
  private wanted: FileEntry[] = [];
  private next = 0;
  private writer: BlobWriter | null = null;
  private received = 0;
  private phase: 'manifest' | 'content' | 'over' = 'manifest';
  /** Writes in order: each chunk after the one before has reached the disk. */
  private chain: Promise<void> = Promise.resolve();
  private readonly blobs: BlobStore;
  private readonly hashes = new Map<FileEntry, string>();

  constructor(
    manifestBytes: number,
    private readonly context: RequestContext,
    private readonly onOver: () => void,
  ) {
    this.manifestBytes = manifestBytes;
    this.blobs = new BlobStore(context.agent.paths.blobs);
  }

  /** Over (staged, refused, or the client gone): it no longer counts against the agent's stages. */
  private over(): void {
    this.phase = 'over';
    if (!this.released) {
      this.released = true;
      this.onOver();
    }
  }

  write(bytes: Uint8Array, done: () => void): void {
    if (this.phase === 'over') return done();
    this.chain = this.chain
      .then(() => this.take(bytes))
      .then(done, (err: unknown) => {
        done();
        this.fail(asHerdError(err, 'INVALID_SPEC'));
      });
  }

  end(): void {
    this.chain = this.chain.then(async () => {
      if (this.phase === 'over') return;
      if (this.phase === 'manifest' || this.writer !== null || this.next < this.wanted.length) {
        throw new HerdError('INVALID_SPEC', `upload: the content ended after ${this.received} bytes, before every wanted file had arrived`);
      }
      this.finish();
    }).catch((err: unknown) => this.fail(asHerdError(err, 'INVALID_SPEC')));
  }

  close(): void {
    this.over();
    this.writer?.abandon();
    this.writer = null;
  }

  private async take(bytes: Uint8Array): Promise<void> {
    if (this.phase === 'over') return;
    let offset = 0;
    if (this.phase === 'manifest') {
      const room = this.manifestBytes - this.manifestGot;
      // The client sends content only after our want list: more bytes now break the protocol.
      if (bytes.length > room) throw new HerdError('PROTOCOL', 'upload: content arrived before the host asked for it');
      this.manifestPieces.push(bytes.slice());
      this.manifestGot += bytes.length;
      if (this.manifestGot === this.manifestBytes) this.manifestDone();
      return;
    }
    while (offset < bytes.length) {
      if (this.writer === null) {
        const entry = this.wanted[this.next];
        if (entry === undefined) throw new HerdError('PROTOCOL', 'upload: more content than the wanted files hold');
        this.writer = this.blobs.writer(entry.size, entry.sha256);
      }
      const take = Math.min(bytes.length - offset, this.writer.size - this.writer.written);
      this.writer.write(bytes.subarray(offset, offset + take));
      offset += take;
      this.received += take;
      if (this.writer.written === this.writer.size) this.fileDone();
    }
  }

  private fileDone(): void {
    const writer = this.writer!;
    this.writer = null;
    this.hashes.set(this.wanted[this.next]!, writer.finish());
    this.next++;
  }

  private manifestDone(): void {
    const manifest = new Uint8Array(this.manifestBytes);
    let at = 0;
    for (const piece of this.manifestPieces.splice(0)) {
      manifest.set(piece, at);
      at += piece.length;
    }
    const decoded = decodeManifest(manifest);
    this.entries = decoded.entries;
    const files = this.entries.filter((e): e is FileEntry => e.kind === 'file');
    // Empty files need no content; a known hash the blob store holds needs none either.
    const want = files.map((f) => f.size > 0 && (f.sha256 === undefined || !this.blobs.has(f.sha256)));
    this.wanted = files.filter((_, i) => want[i]);
    const wantedBytes = this.wanted.reduce((sum, f) => sum + f.size, 0);
    // The blobs, and the copy each job gets in its /work: refused now rather than half written.
    const problem = spaceProblem(this.context.agent.paths.dir, wantedBytes + decoded.totals.bytes);
    if (problem !== null) throw problem;
    this.phase = 'content';
    this.context.session.sendMessage(this.context.stream, { t: 'stage-want', want: encodeWant(want) });
    // Nothing wanted: the client ends stdin at once, and end() finishes.
  }

  private finish(): void {
    const entries: Stage['entries'] = this.entries.map((e) => {
      if (e.kind !== 'file') return e;
      const sha256 = e.size === 0 ? EMPTY_SHA256 : (this.hashes.get(e) ?? e.sha256!);
      if (e.size > 0) this.blobs.touch(sha256);
      return { ...e, sha256 };
    });
    const { subject, ca } = this.context.caller;
    const stage = saveStage(this.context.agent.paths.stages, { owner: subject, ownerCa: ca, entries });
    const files = entries.filter((e) => e.kind === 'file');
    this.over();
    answer(this.context, { t: 'staged', stage: stage.id, files: files.length, bytes: files.reduce((sum, f) => sum + (f.kind === 'file' ? f.size : 0), 0), receivedBytes: this.received });
  }

  private fail(error: HerdError): void {
    if (this.phase === 'over') return;
    this.close();
    answerError(this.context, error);
  }
}
