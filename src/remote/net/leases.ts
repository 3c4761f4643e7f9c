import { mkdirSync, openSync, closeSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import { formatIp } from './cidr.ts';
import type { Resolved } from './network.ts';

/**
 * Address leases of one network, one file per address under <state>/networks/<name>/leases.
 * Creating a lease is O_EXCL, so two runs (or two agents) never get the same address, and
 * leases survive restarts. A lease holds the job id and its init's pid, for reconciliation.
 */
/** Who holds an address: a job, and its --name when it has one (how other jobs of the network reach it). */
export interface LeaseHolder {
  jobId: string;
  name?: string;
}

/** The lease file's one line: "jobId [name]". */
function formatHolder(holder: LeaseHolder): string {
  return holder.name === undefined ? holder.jobId : `${holder.jobId} ${holder.name}`;
}

function parseHolder(line: string): LeaseHolder {
  const [jobId = '', name] = line.trim().split(' ');
  return name === undefined ? { jobId } : { jobId, name };
}

export class Leases {
  private readonly dir: string;

  constructor(networkDir: string) {
    this.dir = join(networkDir, 'leases');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private tryTake(ip: number, holder: LeaseHolder): boolean {
    try {
      const fd = openSync(join(this.dir, formatIp(ip)), 'wx', 0o600);
      writeSync(fd, `${formatHolder(holder)}\n`);
      closeSync(fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  }

  /** Phase 1: the first free address of the range, or the one asked for. */
  allocate(network: Resolved, holder: LeaseHolder, wanted?: number): number {
    if (wanted !== undefined) {
      if (!this.tryTake(wanted, holder)) throw new HerdError('NETWORK', `--ip ${formatIp(wanted)} is in use by another job`);
      return wanted;
    }
    for (let ip = network.first; ip <= network.last; ip++) {
      if (ip !== network.gateway && this.tryTake(ip, holder)) return ip;
    }
    throw new HerdError('NETWORK', `no free address left in ${formatIp(network.first)}-${formatIp(network.last)}`);
  }

  release(ip: number): void {
    try {
      unlinkSync(join(this.dir, formatIp(ip)));
    } catch {
      // already released
    }
  }

  /** Address → holder of every lease. */
  all(): Map<string, LeaseHolder> {
    const leases = new Map<string, LeaseHolder>();
    for (const name of readdirSync(this.dir)) {
      try {
        leases.set(name, parseHolder(readFileSync(join(this.dir, name), 'utf8')));
      } catch {
        // released meanwhile
      }
    }
    return leases;
  }
}
