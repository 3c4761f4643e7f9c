import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { keyId } from '../../protocol/cert.ts';
import { AuditLog, type AuditLogOptions } from '../audit/auditLog.ts';
import { AUDIT_BUDGET, AuditBudget } from '../audit/auditBudget.ts';
import { Auditor } from '../audit/auditor.ts';
import type { StatePaths } from '../../shared/agentPaths.ts';
import { readCgroupFacts, readText } from '../cgroups/facts.ts';
import { detectHierarchy, type Hierarchy } from '../cgroups/hierarchy.ts';
import { installDeviceLoader } from '../cgroups/installDeviceLoader.ts';
import { planCgroup, type CgroupFacts } from '../cgroups/plan.ts';
import { adoptOrphan } from '../jobs/adoptJob.ts';
import { findHostTools } from '../system/hostTools.ts';
import { JobBook } from '../jobs/jobBook.ts';
import type { HostTools } from '../system/hostTools.ts';
import { LauncherPool } from '../jobs/launcher.ts';
import { startScheduled } from '../jobs/scheduleJob.ts';
import { Scheduler } from '../jobs/scheduler.ts';
import { NetworkManager } from '../net/manager.ts';
import { checkedJobIds, type IdRange } from '../sandbox/idmap.ts';
import { readEtcFiles, readHiddenPaths, readHostMounts, readHostRoot, readProcEntries } from '../sandbox/sandbox.ts';
import { installSeccomp, type SeccompSupport } from '../sandbox/seccomp/install.ts';
import type { AgentState } from './agentState.ts';
import { loadHostIdentity } from './identity.ts';

/** Rotation of the audit log: HERD_AUDIT_ROTATE_BYTES and HERD_AUDIT_KEEP_FILES in the agent's environment change it. */
function auditOptions(env: NodeJS.ProcessEnv): AuditLogOptions {
  const options: AuditLogOptions = {};
  const bytes = Number(env.HERD_AUDIT_ROTATE_BYTES);
  const keep = Number(env.HERD_AUDIT_KEEP_FILES);
  if (Number.isSafeInteger(bytes) && bytes >= 1024) options.rotateBytes = bytes;
  if (Number.isSafeInteger(keep) && keep >= 1) options.keepFiles = keep;
  return options;
}

/** HERD_AUDIT_BURST: a smaller budget, for tests that run into it. */
function auditBudget(env: NodeJS.ProcessEnv): AuditBudget {
  const burst = Number(env.HERD_AUDIT_BURST);
  return new AuditBudget(Number.isSafeInteger(burst) && burst >= 1 ? { ...AUDIT_BUDGET, burst } : AUDIT_BUDGET);
}

/**
 * Everything an agent holds for the whole host, complete: what is cheap is read now, what may fail
 * or cost (the job id range, seccomp, host tools) on first use. Nothing is set on it later.
 */
export function buildAgentState(paths: StatePaths, version: string): AgentState {
  const isRoot = process.getuid?.() === 0;
  let tools: HostTools | undefined;
  let jobIds: IdRange | undefined;
  let seccomp: SeccompSupport | undefined;
  let cgroups: { hierarchy: Hierarchy | null; facts: CgroupFacts } | undefined;
  const readCgroups = (): { hierarchy: Hierarchy | null; facts: CgroupFacts } => {
    if (cgroups === undefined) {
      // Only root can create cgroups here; a rootless agent runs jobs without them.
      const hierarchy = isRoot ? detectHierarchy(readHostMounts(), readText) : null;
      mkdirSync(paths.jobs, { recursive: true, mode: 0o700 });
      const facts = readCgroupFacts(hierarchy, paths.jobs);
      // v2 has no devices controller: the device policy is an eBPF program herd-devices attaches.
      if (hierarchy?.version === 2) facts.v2Devices = installDeviceLoader(paths.dir, hierarchy.root);
      cgroups = { hierarchy, facts };
    }
    return cgroups;
  };
  const { hierarchy, facts } = readCgroups();
  // The book takes over jobs of a dead agent and the scheduler starts jobs: both need the state they are part of.
  const book = new JobBook(paths.jobs, (record) => adoptOrphan(state, record));
  const identity = loadHostIdentity(paths);
  const state: AgentState = {
    paths,
    version,
    identity,
    book,
    scheduler: new Scheduler(book, (record) => startScheduled(state, record)),
    isRoot,
    hostRoot: readHostRoot(),
    etcFiles: readEtcFiles(),
    hidden: readHiddenPaths(),
    procEntries: readProcEntries(),
    tools: () => (tools ??= findHostTools()),
    jobIds: () => (jobIds ??= checkedJobIds()),
    seccomp: () => (seccomp ??= installSeccomp(paths.dir)),
    cgroups: readCgroups,
    launchers: hierarchy === null ? null : new LauncherPool(paths.jobs, (name) => planCgroup({}, hierarchy, facts, name)!),
    networks: new NetworkManager(paths.dir),
    audit: new Auditor(new AuditLog(paths.audit, auditOptions(process.env)), hostname(), keyId(identity.hostKey.publicKey), auditBudget(process.env)),
  };
  return state;
}
