/** A started bootstrap: the byte streams of the remote `sh` (an SSH exec channel or a local child). */
export interface RawChannel {
  stdout: NodeJS.ReadableStream;
  stderr: NodeJS.ReadableStream;
  stdin: NodeJS.WritableStream;
  /** Resolves with the remote exit status once the channel ends (null when unknown). */
  exited: Promise<number | null>;
  close(): void;
}

