import { spawn } from 'node:child_process';

export interface Timing {
  label: string;
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
}

/** Runs a command once and returns its wall time; a failed run is an error, not a data point. */
export function timeOnce(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code === 0) resolve(ms);
      else reject(new Error(`${argv.join(' ')} exited ${code}: ${err.slice(-500)}`));
    });
  });
}

export async function measure(
  label: string,
  runs: number,
  argv: string[],
  env: NodeJS.ProcessEnv,
  before?: () => void | Promise<void>,
): Promise<Timing> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    await before?.();
    samples.push(await timeOnce(argv, env));
  }
  samples.sort((a, b) => a - b);
  const mid = Math.floor(samples.length / 2);
  const median = samples.length % 2 === 1 ? samples[mid]! : (samples[mid - 1]! + samples[mid]!) / 2;
  return { label, runs, medianMs: median, minMs: samples[0]!, maxMs: samples.at(-1)! };
}
