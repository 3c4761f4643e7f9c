import { HerdError } from '../../protocol/errors.ts';
import { jsonDocument } from '../output/jsonDocument.ts';
import { formatTable } from '../output/table.ts';
import { BUN_VERSION, cachedRuntime, fetchRuntime, isRuntimeTarget, RUNTIME_TARGETS, type RuntimeTarget } from '../runtime/bunRuntime.ts';
import { globalOptions, type CommandModule } from './types.ts';

const fetchCommand: CommandModule = {
  command: 'fetch [targets..]',
  describe: `get Bun ${BUN_VERSION} for these host targets into the cache now (default: every target), from the npm registry`,
  builder: (y) =>
    y
      .positional('targets', { type: 'string', array: true, describe: RUNTIME_TARGETS.join(', ') })
      .example('$0 runtime fetch', 'every target, ahead of a first contact with hosts that have no runtime')
      .example('$0 runtime fetch linux-x64 linux-aarch64-musl', 'only these')
      .epilog('herd fetches a missing runtime by itself when a host needs one; fetching ahead helps where hosts are reached from a machine without the npm registry (copy ~/.cache/herd/runtimes there). HERD_NPM_REGISTRY names a mirror.'),
  handler: async (argv, io) => {
    const wanted = ((argv.targets as string[] | undefined) ?? []).map(String);
    for (const t of wanted) if (!isRuntimeTarget(t)) throw new HerdError('INVALID_SPEC', `runtime fetch: "${t}" is not one of ${RUNTIME_TARGETS.join(', ')}`);
    const targets: RuntimeTarget[] = wanted.length === 0 ? [...RUNTIME_TARGETS] : (wanted as RuntimeTarget[]);
    for (const target of targets) {
      if (cachedRuntime(target) !== null) {
        io.stderr.write(`herd: Bun ${BUN_VERSION} for ${target} is cached already\n`);
        continue;
      }
      await fetchRuntime(target, (line) => io.stderr.write(`${line}\n`));
    }
    return { exitCode: 0 };
  },
};

const listCommand: CommandModule = {
  command: 'list',
  describe: 'the runtimes in the cache, ready to ship to hosts without one',
  builder: (y) => y.example('$0 runtime list --json', 'as JSON'),
  handler: (argv, io) => {
    const runtimes = RUNTIME_TARGETS.map((target) => ({ target, version: BUN_VERSION, cached: cachedRuntime(target) }));
    if (globalOptions(argv).json) {
      io.stdout.write(jsonDocument('runtime-list', { runtimes: runtimes.map((r) => ({ target: r.target, version: r.version, cached: r.cached !== null, sha256: r.cached?.sha256 ?? null, gzBytes: r.cached?.gzBytes ?? null })) }));
    } else {
      io.stdout.write(formatTable(['TARGET', 'BUN', 'CACHED', 'ON THE WIRE'], runtimes.map((r) => [r.target, r.version, r.cached === null ? 'no' : 'yes', r.cached === null ? '-' : `${(r.cached.gzBytes / 1e6).toFixed(0)} MB`])));
    }
    return { exitCode: 0 };
  },
};

export const runtimeModule = {
  command: 'runtime',
  describe: 'the Bun runtime herd ships to hosts that have no JavaScript runtime: fetch, list',
  subcommands: [fetchCommand, listCommand] satisfies CommandModule[],
};
