/*
 * Every control message of the protocol, by family: the handshake (stream 0), running a job, the
 * job book, networks, the host's trust, its audit log, uploads, and the two every family uses. Each family file holds its types and one
 * validator per type; this file joins them.
 */
import { AUDIT_VALIDATORS, RELAY_VALIDATORS, type AuditMessage, type AuditRead, type RelayFacts } from './messages/audit.ts';
import { COMMON_VALIDATORS, type CommonMessage } from './messages/common.ts';
import { fail, isObject, type Validators } from './messages/check.ts';
import { HANDSHAKE_VALIDATORS, type HandshakeMessage } from './messages/handshake.ts';
import { JOBS_VALIDATORS, type JobRequest, type JobsMessage } from './messages/jobs.ts';
import { NETWORK_VALIDATORS, type NetworkCreate, type NetworkList, type NetworkMessage, type NetworkRemove } from './messages/networks.ts';
import { RUN_VALIDATORS, type RunMessage, type RunRequest, type SignalRequest } from './messages/run.ts';
import { TRUST_VALIDATORS, type TrustList, type TrustMessage, type TrustRemove } from './messages/trust.ts';
import { UPLOAD_VALIDATORS, type StageRequest, type UploadMessage } from './messages/uploads.ts';
import { DOWNLOAD_VALIDATORS, type DownloadMessage, type JobReadRequest } from './messages/downloads.ts';

export { ROLES, type Role } from './roles.ts';
export type * from './messages/common.ts';
export type * from './messages/handshake.ts';
export type * from './messages/networks.ts';
export { ISOLATIONS, JOB_SIGNALS, MAX_BINDS } from './messages/run.ts';
export type * from './messages/run.ts';
export { JOB_STATES } from './messages/jobs.ts';
export type * from './messages/jobs.ts';
export type * from './messages/trust.ts';
export type * from './messages/audit.ts';
export type * from './messages/uploads.ts';
export type * from './messages/downloads.ts';

export type Message = HandshakeMessage | RunMessage | JobsMessage | NetworkMessage | TrustMessage | AuditMessage | UploadMessage | DownloadMessage | RelayFacts | CommonMessage;

/** What a client asks of a host, each on a stream of its own (a signal on its job's stream). */
export type Request = RunRequest | SignalRequest | NetworkCreate | NetworkList | NetworkRemove | JobRequest | TrustList | TrustRemove | AuditRead | StageRequest | JobReadRequest;
export type RequestType = Request['t'];
/** The request of type T. */
export type RequestOf<T extends RequestType> = Extract<Request, { t: T }>;

const VALIDATORS: Validators<Message> = { ...HANDSHAKE_VALIDATORS, ...RUN_VALIDATORS, ...JOBS_VALIDATORS, ...NETWORK_VALIDATORS, ...TRUST_VALIDATORS, ...AUDIT_VALIDATORS, ...UPLOAD_VALIDATORS, ...DOWNLOAD_VALIDATORS, ...RELAY_VALIDATORS, ...COMMON_VALIDATORS };

/** Validates a decoded JSON value into a Message; anything else is a PROTOCOL error. */
export function parseMessage(value: unknown): Message {
  if (!isObject(value)) fail('not an object');
  const type = value.t;
  if (typeof type !== 'string' || !Object.hasOwn(VALIDATORS, type)) fail(`unknown type ${JSON.stringify(type)}`);
  VALIDATORS[type as Message['t']](value);
  return value as unknown as Message;
}
