/*
 * A job's output log on the host (jobs/<id>/output.log): records in the order the agent read
 * them, each a 16-byte header and its payload.
 *   0..3   payload length, u32 big-endian
 *   4      kind: 1 stdout, 2 stderr, 3 a note of herd's own (UTF-8), e.g. where output was dropped
 *   5..7   zero
 *   8..15  when the agent read it: milliseconds since the epoch, float64 big-endian
 * One write per record, so a reader sees a record whole or learns to wait for the rest.
 */
export const LOG_HEADER_BYTES = 16;
export const LOG_FILE = 'output.log';

export type LogKind = 1 | 2 | 3;
export const LogKinds = { Stdout: 1, Stderr: 2, Note: 3 } as const;

export interface LogHeader {
  kind: LogKind;
  length: number;
  atMs: number;
}

export function encodeLogRecord(kind: LogKind, atMs: number, payload: Uint8Array): Uint8Array {
  const record = new Uint8Array(LOG_HEADER_BYTES + payload.length);
  const view = new DataView(record.buffer);
  view.setUint32(0, payload.length);
  view.setUint8(4, kind);
  view.setFloat64(8, atMs);
  record.set(payload, LOG_HEADER_BYTES);
  return record;
}

/** The header at the start of `bytes` (at least LOG_HEADER_BYTES long); a corrupt one is an error. */
export function decodeLogHeader(bytes: Uint8Array): LogHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, LOG_HEADER_BYTES);
  const kind = view.getUint8(4);
  if (kind !== 1 && kind !== 2 && kind !== 3) throw new Error(`corrupt output log: record kind ${kind}`);
  return { kind, length: view.getUint32(0), atMs: view.getFloat64(8) };
}
