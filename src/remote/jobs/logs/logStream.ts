import { fromUtf8 } from '../../../protocol/bytes.ts';
import { LogCursor } from './logCursor.ts';
import { LineCounter, LogSelection } from './logSelection.ts';

/** Where a log reader's output goes; `data` returns false to wait for `pump()` after a drain. */
export interface LogOutput {
  at(ms: number): void;
  data(channel: 1 | 2, bytes: Uint8Array): boolean;
  note(text: string): void;
  end(): void;
}

/** The job behind a log: whether more can come, and a way to hear that it did. */
export interface LogSource {
  finished(): boolean;
  /** Calls `changed` when output was appended or the job ended; returns the way to stop. */
  watch(changed: () => void): () => void;
}

export interface LogReadOptions {
  channels: ReadonlySet<1 | 2>;
  follow: boolean;
  timestamps: boolean;
  fromByte?: number;
  tail?: number;
}

/** Largest piece read from disk at once, and how much is sent before yielding to other work. */
const PIECE_BYTES = 64 * 1024;
const TURN_BYTES = 1024 * 1024;

const later: (fn: () => void) => void = typeof setImmediate === 'function' ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);

/**
 * Sends a job's recorded output, then (when following) what is appended, until the job has
 * ended and everything is sent. Reads from disk in bounded pieces and stops whenever the
 * output is full, so memory stays flat however large the log or slow the reader: the log on
 * disk is the buffer. Bytes come in the order the agent recorded them, each once.
 */
export class LogStream {
  private readonly cursor: LogCursor;
  private readonly selection: LogSelection;
  private readonly options: LogReadOptions;
  private readonly output: LogOutput;
  private readonly source: LogSource;
  private unwatch: (() => void) | null = null;
  private pumping = false;
  private scheduled = false;
  private done = false;
  private lastAt: number | null = null;

  constructor(path: string, options: LogReadOptions, source: LogSource, output: LogOutput) {
    this.options = options;
    this.output = output;
    this.source = source;
    let skipLines = 0;
    if (options.tail !== undefined) {
      // The last N lines of what is there now; a follower then gets everything after them.
      const counter = new LineCounter(options.channels);
      const scan = new LogCursor(path);
      try {
        for (let piece = scan.next(PIECE_BYTES); piece !== null; piece = scan.next(PIECE_BYTES)) counter.add(piece);
      } finally {
        scan.close();
      }
      skipLines = counter.linesBefore(options.tail);
    }
    this.selection = new LogSelection(options.channels, { ...(options.fromByte === undefined ? {} : { fromByte: options.fromByte }), skipLines });
    this.cursor = new LogCursor(path);
    if (options.follow) this.unwatch = source.watch(() => this.schedule());
  }

  /** Sends what it can: first when the caller is ready, then on each drain of the output and when the log grows. */
  pump(): void {
    if (this.done || this.pumping) return;
    this.pumping = true;
    try {
      let sent = 0;
      // Asked before reading (once a turn: for a job of another agent it reads its record): if the
      // job had ended by then, a read that finds nothing is the end. If it ends during the turn,
      // its last change schedules another turn.
      const ended = !this.options.follow || this.source.finished();
      while (sent < TURN_BYTES) {
        const piece = this.cursor.next(PIECE_BYTES);
        if (piece === null) {
          if (ended) this.finish();
          return;
        }
        if (piece.kind === 3) {
          this.output.note(fromUtf8(piece.bytes).replace(/\n$/, ''));
          continue;
        }
        const bytes = this.selection.take(piece);
        if (bytes === null) continue;
        if (this.options.timestamps && piece.atMs !== this.lastAt) {
          this.lastAt = piece.atMs;
          this.output.at(piece.atMs);
        }
        sent += bytes.length;
        if (!this.output.data(piece.kind, bytes)) return;
      }
      this.schedule();
    } catch (err) {
      this.output.note(`herd: cannot read the job's output log: ${(err as Error).message}`);
      this.finish();
    } finally {
      this.pumping = false;
    }
  }

  /** Stops reading (the reader went away). */
  close(): void {
    this.done = true;
    this.unwatch?.();
    this.cursor.close();
  }

  private schedule(): void {
    if (this.scheduled || this.done) return;
    this.scheduled = true;
    later(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private finish(): void {
    if (this.done) return;
    this.close();
    this.output.end();
  }
}
