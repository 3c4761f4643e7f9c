import { accessSync, constants, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Finds the command before the job starts, so "not found" is a clear 127 rather than a shell message. */
export function resolveCommand(command: string, path: string): string {
  if (command.includes('/')) {
    if (executable(command)) return command;
    throw new HerdError('COMMAND_NOT_FOUND', `command not found or not executable: ${command}`);
  }
  for (const dir of path.split(':')) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    if (executable(candidate)) return candidate;
  }
  throw new HerdError('COMMAND_NOT_FOUND', `command not found: ${command} (searched PATH=${path})`);
}

/**
 * A sandboxed job's command, found where the job will see it: a path in /work (absolute, or
 * relative to a working directory there, as an uploaded ./script.sh) in the job's own /work on
 * the host (`work`); one elsewhere, or a name on PATH, in the host's file system, which the job
 * sees read-only. A relative path is kept relative: the job runs it from its working directory.
 */
export function resolveJobCommand(command: string, path: string, workdir: string, work: string): string {
  const inWork = (jobPath: string): string | null => (jobPath === '/work' || jobPath.startsWith('/work/') ? join(work, jobPath.slice('/work'.length)) : null);
  if (!command.includes('/')) return resolveCommand(command, path);
  const onHost = inWork(command.startsWith('/') ? command : posix.join(workdir, command));
  if (onHost === null) return command.startsWith('/') ? resolveCommand(command, path) : command;
  if (executable(onHost)) return command;
  throw new HerdError('COMMAND_NOT_FOUND', `command not found or not executable in the job's /work: ${command}`, {
    hint: command.startsWith('/') ? 'upload it (--upload FILE) and check its mode (chmod +x)' : `the job starts in ${workdir}: upload the file (--upload FILE), and check its mode (chmod +x)`,
  });
}
