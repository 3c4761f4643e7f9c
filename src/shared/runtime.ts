/*
 * The one seam between runtimes on the host. The helper uses node: modules, which
 * node, bun and deno all provide; only re-spawning ourselves differs.
 */
declare const Deno: { version: { deno: string } } | undefined;

export const runtimeName: 'deno' | 'bun' | 'node' =
  typeof Deno !== 'undefined' ? 'deno' : typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined' ? 'bun' : 'node';

/** argv that starts `script` with the runtime we are on. */
export function selfCommand(script: string, args: string[]): [string, string[]] {
  if (runtimeName === 'deno') return [process.execPath, ['run', '--allow-all', '--quiet', script, ...args]];
  return [process.execPath, [script, ...args]];
}

/** node >= 18 is needed for the APIs the helper uses; bun and deno are taken as they come. */
export function runtimeProblem(): string | null {
  if (runtimeName !== 'node') return null;
  const major = Number(process.versions.node.split('.')[0]);
  return major >= 18 ? null : `node ${process.versions.node} is too old: herd's helper needs node >= 18, bun or deno`;
}
