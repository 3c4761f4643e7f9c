import { HerdError } from '../../protocol/errors.ts';
import type { AuditEnd, AuditFileInfo } from '../../protocol/messages.ts';
import { ChainVerifier, type AuditHead, type AuditVerdict } from '../../shared/auditChain.ts';
import { LineSplitter } from './auditLines.ts';

/** Longest line a reader takes: past what an agent writes (8 KiB), short of what would cost it. */
export const MAX_READ_LINE_BYTES = 64 * 1024;

/**
 * Checks a host's whole log as its bytes arrive (audit-read with `all`): the host names its files
 * and their sizes first, so each byte is known to belong to one file, and lines are checked one at
 * a time (ChainVerifier); nothing of the log is held beyond the line being read.
 */
export class VerifyingReader {
  private files: readonly AuditFileInfo[] | null = null;
  private verifier: ChainVerifier | null = null;
  private splitter: LineSplitter | null = null;
  /** The file being read, and how many of its bytes are still to come. */
  private index = -1;
  private left = 0;

  constructor(private readonly anchor: AuditHead | null) {}

  /** The host's files, before their bytes, with the last line its agent wrote. */
  expect(files: readonly AuditFileInfo[], head: AuditHead | null): void {
    this.files = files;
    const verifier = new ChainVerifier({ head, anchor: this.anchor });
    this.verifier = verifier;
    this.splitter = new LineSplitter({ line: (text) => verifier.line(text), tooLong: () => verifier.junk() }, MAX_READ_LINE_BYTES);
    this.nextFile();
  }

  push(bytes: Uint8Array): 'more' | 'stop' {
    const { verifier, splitter, files } = this;
    if (verifier === null || splitter === null || files === null) throw new HerdError('PROTOCOL', 'the host sent its audit log without naming its files first');
    let at = 0;
    while (at < bytes.length) {
      if (this.index >= files.length) throw new HerdError('PROTOCOL', 'the host sent more audit log than its files hold');
      const take = Math.min(this.left, bytes.length - at);
      splitter.push(bytes.subarray(at, at + take));
      at += take;
      this.left -= take;
      if (this.left === 0) this.nextFile();
      if (verifier.full) return 'stop';
    }
    return 'more';
  }

  /** The read ended: every byte the files were said to hold came, and the end names the same files. */
  finish(end: AuditEnd): AuditVerdict {
    const { verifier, files } = this;
    if (verifier === null || files === null) throw new HerdError('PROTOCOL', 'the host sent no list of its audit files');
    if (this.index < files.length) throw new HerdError('PROTOCOL', `the host sent less audit log than its files hold (${files[this.index]!.name})`);
    const same = end.files.length === files.length && end.files.every((f, i) => f.name === files[i]!.name && f.bytes === files[i]!.bytes);
    if (!same) throw new HerdError('PROTOCOL', 'the host named other audit files at the end than at the start');
    return verifier.finish();
  }

  /** The verdict so far, when the read was stopped for too many problems. */
  stopped(): AuditVerdict {
    if (this.verifier === null) throw new HerdError('INTERNAL', 'no verdict before the host named its files');
    return this.verifier.finish();
  }

  list(): AuditFileInfo[] {
    return (this.files ?? []).map((f) => ({ name: f.name, bytes: f.bytes }));
  }

  /** Ends the file just read (a torn last line is a problem) and begins the next non-empty one. */
  private nextFile(): void {
    const { verifier, splitter, files } = this;
    if (verifier === null || splitter === null || files === null) return;
    if (this.index >= 0 && this.index < files.length) verifier.endFile(splitter.end());
    for (this.index++; this.index < files.length; this.index++) {
      verifier.beginFile(files[this.index]!.name);
      this.left = files[this.index]!.bytes;
      if (this.left > 0) return;
    }
  }
}
