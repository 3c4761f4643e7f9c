import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import type { UploadEntry } from '../../protocol/uploads/manifest.ts';

/** A staged upload: its tree, every file's content in the blob store by the sha256 it names. */
export interface Stage {
  id: string;
  owner: string;
  ownerCa: string;
  createdAt: string;
  entries: Array<Exclude<UploadEntry, { kind: 'file' }> | (Extract<UploadEntry, { kind: 'file' }> & { sha256: string })>;
}

/** How long a staged upload waits for the run that names it. */
export const STAGE_TTL_MS = 3600_000;

const STAGE_ID = /^[0-9a-f]{32}$/;

export function saveStage(dir: string, stage: Omit<Stage, 'id' | 'createdAt'>): Stage {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const full: Stage = { id: randomBytes(16).toString('hex'), createdAt: new Date().toISOString(), ...stage };
  const tmp = join(dir, `.${full.id}.tmp`);
  writeFileSync(tmp, JSON.stringify(full), { mode: 0o600 });
  renameSync(tmp, join(dir, `${full.id}.json`));
  return full;
}

/**
 * The stage `id` for the caller who staged it, taken (a stage is used once). Another caller's
 * stage is as unknown as one that never was: its name proves nothing.
 */
export function takeStage(dir: string, id: string, caller: { subject: string; ca: string }): Stage {
  const missing = new HerdError('STAGE_NOT_FOUND', `upload ${id.slice(0, 12)} is not staged on this host (it was used, it expired after ${STAGE_TTL_MS / 60_000} minutes, or another connection staged it)`, {
    hint: 'run the command again: herd stages uploads itself',
  });
  if (!STAGE_ID.test(id)) throw missing;
  const path = join(dir, `${id}.json`);
  let stage: Stage;
  try {
    stage = JSON.parse(readFileSync(path, 'utf8')) as Stage;
  } catch {
    throw missing;
  }
  if (stage.owner !== caller.subject || stage.ownerCa !== caller.ca) throw missing;
  unlinkSync(path);
  return stage;
}

/** Removes stages no run took in time. */
export function pruneStages(dir: string, ttlMs = STAGE_TTL_MS): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const cutoff = Date.now() - ttlMs;
  for (const name of names) {
    try {
      if (statSync(join(dir, name)).mtimeMs < cutoff) unlinkSync(join(dir, name));
    } catch {
      // taken meanwhile
    }
  }
}
