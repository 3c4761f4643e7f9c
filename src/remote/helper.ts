import { mkdirSync } from 'node:fs';
import { basename } from 'node:path';
import { runAgent, type AgentStart } from './agent/agent.ts';
import { statePaths } from '../shared/agentPaths.ts';
import { openBootstrapChannel } from './agent/bootstrapChannel.ts';
import { runRelay } from './agent/relay.ts';
import { installNativeEd25519 } from '../shared/nativeEd25519.ts';
import { runtimeProblem } from '../shared/runtime.ts';
import { checkStateDirectory, closeInheritedDescriptors } from './agent/hygiene.ts';

/*
 * The helper, bundled into one file and cached on each host under its hash.
 *   helper.js --state DIR          relay: stdio <-> the host agent (started on demand)
 *   helper.js --state DIR agent    the per-host agent that owns the jobs (with HERD_CHANNEL: also
 *                                  serving the SSH channel of the bootstrap that started it)
 */
function main(): void {
  const args = process.argv.slice(2);
  const stateIndex = args.indexOf('--state');
  const dir = stateIndex >= 0 ? args[stateIndex + 1] : undefined;
  if (dir === undefined) {
    process.stderr.write('herd helper: --state DIR is required\n');
    process.exit(2);
  }
  closeInheritedDescriptors();
  const problem = runtimeProblem();
  if (problem !== null) {
    process.stderr.write(`herd helper: ${problem}\n`);
    process.exit(1);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    checkStateDirectory(dir);
  } catch (err) {
    process.stderr.write(`herd helper: ${(err as Error).message}\n`);
    process.exit(1);
  }
  // The cached file is named helper-<sha256>.mjs: its hash is its version.
  const version = /^helper-([0-9a-f]{64})\.mjs$/.exec(basename(process.argv[1] ?? ''))?.[1] ?? 'development';
  const paths = statePaths(dir, version);
  const mode = args.filter((arg, i) => arg !== '--state' && i !== stateIndex + 1)[0] ?? 'relay';
  if (mode === 'agent') {
    // bootstrap.sh ran under umask 077 for the cache; the agent creates job roots that other
    // users (--user) must traverse. Secrets are written with explicit modes.
    process.umask(0o022);
    process.stdout.on('error', () => {});
    // Started by bootstrap.sh to serve its SSH channel: one that cannot be opened (a socket, not a
    // pipe) is left to the relay, which the bootstrap runs when this exits with 3, unread.
    const bootstrap = Number(process.env.HERD_CHANNEL ?? 0);
    delete process.env.HERD_CHANNEL;
    let start: AgentStart = { announce: (word) => process.stdout.write(`${word}\n`) };
    if (bootstrap > 0) {
      const channel = openBootstrapChannel(bootstrap);
      if (channel === null) process.exit(3);
      start = { channel };
    }
    installNativeEd25519();
    runAgent(paths, version, start);
  } else {
    void runRelay(paths, process.argv[1]!);
  }
}

main();
