import { posix } from 'node:path';
import { HerdError } from '../protocol/errors.ts';
import { uploadPathProblem } from '../protocol/uploads/manifest.ts';

/**
 * Where a job's path lies in its /work: relative to it ('' is /work itself). Anything outside is
 * refused: a job's files are its /work (its /tmp went with it).
 */
export function pathInWork(path: string): string {
  const inJob = posix.normalize(posix.isAbsolute(path) ? path : posix.join('/work', path)).replace(/\/+$/, '');
  if (inJob === '/work') return '';
  if (!inJob.startsWith('/work/')) throw new HerdError('INVALID_SPEC', `${path} is not in the job's /work: a job's files are there (its /tmp went with it)`);
  const rel = inJob.slice('/work/'.length);
  const problem = uploadPathProblem(rel);
  if (problem !== null) throw new HerdError('INVALID_SPEC', `${path} has ${problem}`);
  return rel;
}

