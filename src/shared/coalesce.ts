import { concat } from '../protocol/bytes.ts';

/** Whether corked writes reach the kernel as one writev (a node socket), so pieces need no joining. */
export function gathers(writable: { cork?(): void }): boolean {
  return typeof writable.cork === 'function' && typeof (writable as { _writev?: unknown })._writev === 'function';
}

/** Pieces smaller than this are joined with their small neighbours before they are written. */
const SMALL_PIECE = 16 * 1024;

/** Runs of small pieces joined into one, big pieces as they are, in order. */
export function coalesce(pieces: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  const endRun = (): void => {
    if (run.length === 1) out.push(run[0]!);
    else if (run.length > 1) out.push(concat(run));
    run = [];
  };
  for (const piece of pieces) {
    if (piece.length < SMALL_PIECE) run.push(piece);
    else {
      endRun();
      out.push(piece);
    }
  }
  endRun();
  return out;
}
