import { interfaces } from './hostNet.ts';
import type { LeaseHolder } from './leases.ts';
import type { NetworkSpec } from './network.ts';

/** Waits between looks for a draining veth, then the last resort of deleting it ourselves. */
const DRAIN_CHECKS_MS = [200, 800, 2000];

/** An ended job's address, kept until its host-side veth is gone. */
export interface Draining {
  spec: NetworkSpec;
  ip: number;
  veth: string;
  /** The job's id and name, as its lease holds them. */
  holder: LeaseHolder;
}

/**
 * An ended job's address goes back once its host-side veth is gone. The kernel removes the veth
 * with the job's network namespace, asynchronously (cleanup_net batches them); deleting it
 * ourselves cost a fork of this process and an `ip` per job, the largest part of a job's network
 * cost on a busy host. Until then the address stays leased: the dying namespace still holds it
 * on the bridge, and a new job given it would meet the old one's neighbours. Looked at a few
 * times (a read of /proc/net/dev); deleted by hand only if it lingers.
 */
export class VethDrain {
  private readonly draining = new Set<Draining>();
  private readonly free: (entry: Draining) => void;
  private readonly deleteVeth: (veth: string) => Promise<void>;

  /** `free` gives the address back; `deleteVeth` removes a veth that lingers. */
  constructor(free: (entry: Draining) => void, deleteVeth: (veth: string) => Promise<void>) {
    this.free = free;
    this.deleteVeth = deleteVeth;
  }

  add(entry: Draining): void {
    this.draining.add(entry);
    let check = 0;
    const later = (): void => {
      const timer = setTimeout(look, DRAIN_CHECKS_MS[check++]);
      timer.unref?.();
    };
    const look = (): void => {
      if (!this.draining.has(entry)) return;
      if (!interfaces().has(entry.veth)) this.freed(entry);
      else if (check < DRAIN_CHECKS_MS.length) later();
      else void this.deleted(entry);
    };
    later();
  }

  /**
   * Draining addresses of `spec` whose veth is gone are freed; those `wanted` (all, or the --ip or
   * --name a new job asks for) are freed now, deleting their veth.
   */
  async settle(spec: NetworkSpec, wanted: { all?: boolean; ip?: number | undefined; name?: string | undefined }): Promise<void> {
    const mine = [...this.draining].filter((d) => d.spec.name === spec.name);
    if (mine.length === 0) return;
    const present = interfaces();
    const waits: Array<Promise<void>> = [];
    for (const entry of mine) {
      if (!present.has(entry.veth)) this.freed(entry);
      else if (wanted.all === true || entry.ip === wanted.ip || (wanted.name !== undefined && entry.holder.name === wanted.name)) waits.push(this.deleted(entry));
    }
    await Promise.all(waits);
  }

  private freed(entry: Draining): void {
    if (this.draining.delete(entry)) this.free(entry);
  }

  private async deleted(entry: Draining): Promise<void> {
    await this.deleteVeth(entry.veth).catch(() => {});
    this.freed(entry);
  }
}
