import { HerdError } from '../../protocol/errors.ts';
import { resolveCommand } from '../system/command.ts';
import { HOST_PATH } from '../system/hostPath.ts';

export type NetTool = 'ip' | 'nsenter' | 'nft' | 'tc' | 'iptables-restore' | 'iptables';
const PACKAGES: Record<NetTool, string> = { ip: 'iproute2', nsenter: 'util-linux', nft: 'nftables', tc: 'iproute2', 'iptables-restore': 'iptables', iptables: 'iptables' };

/** The host's network tools, found on first use and remembered (also when missing). */
export class NetTools {
  private readonly found = new Map<NetTool, string | null>();

  /** The tool's path; NETWORK, naming its package, where the host lacks it. */
  need(name: NetTool): string {
    const path = this.find(name);
    if (path === null) {
      throw new HerdError('NETWORK', `${name}(8) is not installed on this host; job networks need it (install ${PACKAGES[name]}), or use --network none`);
    }
    return path;
  }

  find(name: NetTool): string | null {
    if (!this.found.has(name)) {
      let path: string | null;
      try {
        path = resolveCommand(name, HOST_PATH);
      } catch {
        path = null;
      }
      this.found.set(name, path);
    }
    return this.found.get(name)!;
  }
}
