import { HerdError } from '../protocol/errors.ts';
import type { RunRequest } from '../protocol/messages.ts';
import { INIT_NAME, INIT_SCRIPT } from './init.ts';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type Namespace = 'pid' | 'mount' | 'uts' | 'ipc';

/** A job request turned into data: validated, printable and testable before anything touches the kernel. */
export interface JobPlan {
  jobId: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  namespaces: Namespace[];
  /** Without root, a user namespace maps us to root inside so the other namespaces can be made. */
  userNamespace: boolean;
}

export interface PlanContext {
  jobId: string;
  isRoot: boolean;
  /** The job's private working directory, used when the request names none. */
  workDir: string;
  home: string;
}

export function planJob(request: RunRequest, context: PlanContext): JobPlan {
  for (const name of Object.keys(request.env)) {
    if (!ENV_NAME.test(name)) throw new HerdError('INVALID_SPEC', `--env: "${name}" is not a valid variable name`);
  }
  if (request.argv[0] === '') throw new HerdError('INVALID_SPEC', 'the command is empty');
  if (request.workdir !== undefined && !request.workdir.startsWith('/')) {
    throw new HerdError('INVALID_SPEC', `--workdir: "${request.workdir}" must be an absolute path`);
  }
  // The environment starts empty: nothing of the helper's (or herd's control data) leaks into the job.
  const env: Record<string, string> = { PATH: DEFAULT_PATH, HOME: context.home, ...request.env };
  return {
    jobId: context.jobId,
    argv: [...request.argv],
    env,
    cwd: request.workdir ?? context.workDir,
    namespaces: ['pid', 'mount', 'uts', 'ipc'],
    userNamespace: !context.isRoot,
  };
}

/** The unshare(1) invocation that applies a plan: namespaces, then our init as PID 1, then the command. */
export function unshareArgs(plan: JobPlan): string[] {
  const args = plan.namespaces.map((ns) => `--${ns}`);
  if (plan.userNamespace) args.push('--user', '--map-root-user');
  // --fork makes the init PID 1; --mount-proc gives it a /proc of its own namespace;
  // --kill-child ties the namespace to the unshare process, our handle for SIGKILL.
  args.push('--fork', '--mount-proc', '--kill-child=SIGKILL', '--', '/bin/sh', '-c', INIT_SCRIPT, INIT_NAME, ...plan.argv);
  return args;
}
