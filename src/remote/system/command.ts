import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
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
