import { HerdError } from '../protocol/errors.ts';

/** A CPU list as the kernel and --cpu-cores write it (0-3,6), as sorted CPU numbers; `flag` names it in errors. */
export function parseCpuList(text: string, flag: string): number[] {
  const cpus = new Set<number>();
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(text)) throw new HerdError('INVALID_SPEC', `${flag}: "${text}" is not a CPU list (e.g. 0-1,3)`);
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    const end = b ?? a!;
    if (end < a! || end - a! > 4096) throw new HerdError('INVALID_SPEC', `${flag}: "${part}" is not a valid range`);
    for (let cpu = a!; cpu <= end; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((x, y) => x - y);
}
