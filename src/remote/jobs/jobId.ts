import { toHex } from '../../protocol/bytes.ts';
import { randomBytes } from '../../protocol/cert.ts';

/** A job id: 12 hex digits (6 random bytes), also the name of its directory and cgroups. */
const JOB_ID = /^[0-9a-f]{12}$/;

export function newJobId(): string {
  return toHex(randomBytes(6));
}

export function isJobId(name: string): boolean {
  return JOB_ID.test(name);
}
