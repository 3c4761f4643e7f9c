import type { HostIdentity } from '../../protocol/handshake.ts';
import type { Auditor } from '../audit/auditor.ts';
import type { Hierarchy } from '../cgroups/hierarchy.ts';
import type { CgroupFacts } from '../cgroups/plan.ts';
import type { IdRange } from '../sandbox/idmap.ts';
import type { HostTools } from '../system/hostTools.ts';
import type { JobBook } from '../jobs/jobBook.ts';
import type { Scheduler } from '../jobs/scheduler.ts';
import type { LauncherPool } from '../jobs/launcher.ts';
import type { NetworkManager } from '../net/manager.ts';
import type { StatePaths } from '../../shared/agentPaths.ts';
import type { HiddenPath, RootEntry } from '../sandbox/sandboxPlan.ts';
import type { SeccompSupport } from '../sandbox/seccomp/install.ts';

/** What an agent knows and holds for the whole host: built complete in buildAgentState.ts, handed to every session and request. */
export interface AgentState {
  paths: StatePaths;
  /** sha256 of the helper this agent runs */
  version: string;
  identity: HostIdentity;
  /** Every job of the host: live ones in memory, all on disk. */
  book: JobBook;
  scheduler: Scheduler;
  isRoot: boolean;
  /** The host's root directory entries, read once per agent. */
  hostRoot: RootEntry[];
  /** Which of /etc/hostname, hosts and resolv.conf the host has, read once per agent. */
  etcFiles: ReadonlySet<string>;
  /** What of the host jobs must not see, and the names in its /proc, read once per agent. */
  hidden: readonly HiddenPath[];
  procEntries: ReadonlySet<string>;
  /** The host ids job users map to (root agents), checked on first use: ISOLATION_UNSUPPORTED if taken. */
  jobIds(): IdRange;
  /** herd-seccomp for jobs, written and checked on first use, or why this host has none. */
  seccomp(): SeccompSupport;
  /** The tools jobs are started with, found on first use. */
  tools(): HostTools;
  /** The cgroup hierarchy herd can use (null: none, e.g. rootless) and the host facts limits are checked against. */
  cgroups(): { hierarchy: Hierarchy | null; facts: CgroupFacts };
  /** Spare launchers waiting in spare cgroups; null where there are no cgroups. */
  readonly launchers: LauncherPool | null;
  networks: NetworkManager;
  /** The host's audit log: one hash-chained line per handshake, request and trust change. */
  audit: Auditor;
}
