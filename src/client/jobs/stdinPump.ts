import type { RemoteJob } from './remoteJob.ts';

/**
 * Forwards local stdin to every job (broadcast, as clush does), with backpressure:
 * stdin pauses while any job's connection is above its write high-water mark.
 */
export function pumpStdin(input: NodeJS.ReadableStream, jobs: Array<{ job: RemoteJob; drained(): Promise<void> }>): () => void {
  let stopped = false;
  const endAll = (): void => {
    for (const { job } of jobs) job.endStdin();
  };
  if (jobs.length === 0) return () => {};
  const onData = (chunk: Buffer): void => {
    const waits: Array<Promise<void>> = [];
    for (const target of jobs) if (!target.job.writeStdin(chunk)) waits.push(target.drained());
    if (waits.length > 0) {
      input.pause();
      void Promise.all(waits).then(() => {
        if (!stopped) input.resume();
      });
    }
  };
  input.on('data', onData);
  input.once('end', endAll);
  input.once('error', endAll);
  input.resume();
  return () => {
    stopped = true;
    input.removeListener('data', onData);
    input.pause();
  };
}
