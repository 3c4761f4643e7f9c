// Every limit has a name. Receivers check these before allocating.

/** Largest frame payload a peer may send; larger is a protocol error. */
export const MAX_FRAME_PAYLOAD = 1024 * 1024;
/** Size senders split stream data into. */
export const DATA_CHUNK = 64 * 1024;
/** Bytes a sender may have in flight per stream before the receiver grants more credit. */
export const INITIAL_WINDOW = 4 * 1024 * 1024;
/** Streams one session may have open at once. */
export const MAX_STREAMS = 256;
/** Bytes queued by a local writer beyond the peer's window before `write` asks it to wait. */
export const WRITE_HIGH_WATER = 256 * 1024;
/** Largest JSON control message. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** Arguments and environment entries of one job request. */
export const MAX_ARGV = 4096;
export const MAX_ENV = 1024;
/** Seconds between heartbeats, and silence after which a peer is considered gone. */
export const HEARTBEAT_INTERVAL_MS = 15_000;
export const HEARTBEAT_TIMEOUT_MS = 45_000;
