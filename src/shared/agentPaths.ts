import { join } from 'node:path';

/** Where one host keeps herd's state; the bootstrap decides the directory and passes it in. */
export interface StatePaths {
  dir: string;
  socket: string;
  lock: string;
  log: string;
  hostKey: string;
  /** The CAs the host trusts: <keyid>.pub, with the host certificate (.cert) and newest revocation list (.revocations) of each. */
  trust: string;
  /** herd before several CAs: the one CA, its host certificate and list (read once, into trust/). */
  legacy: { caKey: string; hostCert: string; revocations: string };
  jobs: string;
  /** The audit log: current.jsonl and rotated <seq>.jsonl files (src/remote/audit/auditLog.ts). */
  audit: string;
  /** Uploaded content by hash (src/remote/data/blobStore.ts), and uploads staged for a job not yet run. */
  blobs: string;
  stages: string;
}

/** The part of a helper's sha256 that names its agent's socket and lock. */
export function agentTag(version: string): string {
  return version.slice(0, 12);
}

/**
 * The agent's socket and lock carry its version, so after an upgrade the new agent starts
 * beside the old one, which keeps its running jobs and exits once idle; a client only ever
 * reaches an agent that runs its own helper.
 */
export function statePaths(dir: string, version: string): StatePaths {
  return {
    dir,
    socket: join(dir, `agent-${agentTag(version)}.sock`),
    lock: join(dir, `agent-${agentTag(version)}.lock`),
    log: join(dir, 'agent.log'),
    hostKey: join(dir, 'host.key'),
    trust: join(dir, 'trust'),
    legacy: { caKey: join(dir, 'ca.pub'), hostCert: join(dir, 'host.cert'), revocations: join(dir, 'revocations') },
    jobs: join(dir, 'jobs'),
    audit: join(dir, 'audit'),
    blobs: join(dir, 'blobs'),
    stages: join(dir, 'stages'),
  };
}
