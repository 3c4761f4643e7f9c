import type { HerdError } from '../../protocol/errors.ts';

/** A started bootstrap: the byte streams of the remote `sh` (an SSH exec channel or a local child). */
export interface RawChannel {
  stdout: NodeJS.ReadableStream;
  stderr: NodeJS.ReadableStream;
  stdin: NodeJS.WritableStream;
  /** Resolves with the remote exit status once the channel ends (null when unknown). */
  exited: Promise<number | null>;
  /** Why the channel ended before the helper spoke, when its transport can tell (ssh's exit status 255). */
  failure?(exitCode: number | null): HerdError | null;
  close(): void;
}

