// Every limit has a name. Receivers check these before allocating.

/** Largest frame payload a peer may send; larger is a protocol error. */
export const MAX_FRAME_PAYLOAD = 1024 * 1024;
/** Size senders split stream data into. */
export const DATA_CHUNK = 64 * 1024;
/** Bytes a sender may have in flight per stream before the receiver grants more credit. */
export const INITIAL_WINDOW = 4 * 1024 * 1024;
/**
 * Most credit a peer may have granted on one stream at a time. A peer that follows the protocol
 * returns only what it consumed, so its grants never take the window above INITIAL_WINDOW;
 * twice that leaves room for rounding. More is a FLOW_CONTROL error.
 */
export const MAX_STREAM_CREDIT = 2 * INITIAL_WINDOW;
/**
 * Bytes a session may have handed to its transport and not yet seen written. Above it, stream
 * data waits in its stream's queue (and so its producer pauses): a peer that does not read stalls
 * its own streams, and memory stays bounded by the windows, not by what the peer grants.
 */
export const TRANSPORT_HIGH_WATER = 1024 * 1024;
/**
 * Control frames (answers, pongs, credit) a peer that does not read may leave waiting before the
 * session stops reading from it: data already stops at TRANSPORT_HIGH_WATER, so only a peer that
 * floods requests and reads nothing gets here.
 */
export const TRANSPORT_READ_STOP = 8 * 1024 * 1024;
/** Largest Ping payload before the peer has authenticated, and how many pings it may send until then. */
export const PREAUTH_PING_BYTES = 64;
export const PREAUTH_PINGS = 16;
/** Time a connection to an agent has to finish the handshake. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Connections an agent serves at once, and how many of them may still be in the handshake. */
export const MAX_AGENT_CONNECTIONS = 256;
export const MAX_UNAUTHENTICATED_CONNECTIONS = 32;
/** Connections one certificate subject may hold on an agent at once (a fan-out uses one per host). */
export const MAX_CONNECTIONS_PER_SUBJECT = 128;
/** Streams one session may have open at once. */
export const MAX_STREAMS = 256;
/** Bytes queued by a local writer beyond the peer's window before `write` asks it to wait. */
export const WRITE_HIGH_WATER = 256 * 1024;
/** Largest JSON control message. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** Entries (files, directories, symlinks) and content bytes one job's uploads may hold. */
export const MAX_UPLOAD_ENTRIES = 100_000;
export const MAX_UPLOAD_BYTES = 64 * 1024 ** 3;
/** Largest upload manifest (one JSON line per entry: 100,000 entries of 160 bytes). */
export const MAX_UPLOAD_MANIFEST_BYTES = 16 * 1024 * 1024;
/** Uploads an agent stages at once, over all its connections: each holds its manifest and a write buffer. */
export const MAX_STAGES_AT_ONCE = 32;
/** Arguments and environment entries of one job request. */
export const MAX_ARGV = 4096;
export const MAX_ENV = 1024;
/** Seconds between heartbeats, and silence after which a peer is considered gone. */
/**
 * How long a client waits, once SSH is up, for the host to finish herd's handshake (bootstrap,
 * helper shipped if needed, hello, a verified welcome): the default of --handshake-timeout.
 * Generous for a first contact over a slow link (the helper is a few hundred KB).
 */
export const HOST_HANDSHAKE_TIMEOUT_MS = 30_000;
export const HEARTBEAT_INTERVAL_MS = 15_000;
export const HEARTBEAT_TIMEOUT_MS = 45_000;

/** How many CAs a host trusts at most: enough for rotations and a few teams, few enough to list in every hello. */
export const MAX_TRUSTED_CAS = 16;

/** Files of a host's audit log one read names: the kept rotated ones and the current one, with room. */
export const MAX_AUDIT_FILES = 64;
