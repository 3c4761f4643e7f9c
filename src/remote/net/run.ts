import { spawn } from 'node:child_process';
import { HerdError } from '../../protocol/errors.ts';

/** Runs a tool with a batch on stdin; rejects with the step's name and the tool's own words. */
export function runBatch(step: string, argv: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', (e) => reject(new HerdError('NETWORK', `${step}: cannot run ${argv[0]}: ${e.message}`)));
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new HerdError('NETWORK', `${step}: ${err.trim().split('\n').slice(-2).join(' / ') || `${argv[0]} exited ${code}`}`));
    });
    child.stdin.end(input);
  });
}
