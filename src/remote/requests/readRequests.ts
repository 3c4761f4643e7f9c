import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import type { JobReadRequest } from '../../protocol/messages.ts';
import { JobFileWalk } from '../data/jobFiles.ts';
import { pathInWork } from '../../shared/pathInWork.ts';
import { answer, type RequestContext } from './context.ts';
import { checkOwner } from './jobRequests.ts';

/** Entries sent before the walk lets the event loop turn (directories carry no bytes to pace them). */
const ENTRIES_PER_TURN = 256;

/**
 * A job's files, for herd job cp and run --download: its own jobs for a user, any for an admin.
 * Paced by the stream: the next bytes are read only when the client has taken the last.
 */
export function jobRead(request: JobReadRequest, context: RequestContext): void {
  const { book, identity } = context.agent;
  const id = book.resolve(request.id);
  const info = book.info(id);
  checkOwner(context.caller, info, 'read the files of', identity.legacyCa);
  const work = join(book.dir, id, 'work');
  if (info.isolation === 'none' || !existsSync(work)) {
    throw new HerdError('INVALID_SPEC', `job ${id} has no /work (${info.isolation === 'none' ? 'it ran on the host itself' : 'it was deleted'})`);
  }
  const walk = new JobFileWalk(work, pathInWork(request.path));
  const { session, stream } = context;
  let closed = false;
  const pump = (): void => {
    let entries = 0;
    while (!closed) {
      const bytes = walk.readFile();
      if (bytes !== null) {
        if (!session.write(stream, 1, bytes)) return; // resumed on drain
        continue;
      }
      const entry = walk.next();
      if (entry === null) {
        closed = true;
        walk.close();
        answer(context, { t: 'read-done', files: walk.files, bytes: walk.bytes, skipped: walk.skipped });
        return;
      }
      session.sendMessage(stream, { t: 'read-entry', entry });
      if (++entries >= ENTRIES_PER_TURN) {
        setImmediate(pump);
        return;
      }
    }
  };
  context.streams.serve(stream, {
    pump,
    close: () => {
      closed = true;
      walk.close();
    },
  });
  pump();
}
