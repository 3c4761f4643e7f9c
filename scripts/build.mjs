// Builds dist/helper.mjs (shipped to hosts; its sha256 is its version) and dist/herd.js (the CLI),
// each one self-contained file so start-up reads one module and the helper is one upload.
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
mkdirSync(dist, { recursive: true });
// Bundled CommonJS dependencies (tweetnacl, ssh2) call require() for node built-ins.
const requireShim = "import { createRequire as __herdCreateRequire } from 'node:module'; const require = __herdCreateRequire(import.meta.url);";
const common = { bundle: true, platform: 'node', format: 'esm', target: 'node18', legalComments: 'none', logLevel: 'warning' };

await build({ ...common, entryPoints: [join(root, 'src/remote/helper.ts')], outfile: join(dist, 'helper.mjs'), banner: { js: requireShim }, minify: true });
const helper = readFileSync(join(dist, 'helper.mjs'));
const sha256 = createHash('sha256').update(helper).digest('hex');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

await build({
  ...common,
  entryPoints: [join(root, 'src/client/cli.ts')],
  outfile: join(dist, 'herd.js'),
  // ssh2 also looks for its optional native module relative to __dirname.
  banner: { js: `#!/usr/bin/env node\n${requireShim} import { dirname as __herdDirname } from 'node:path'; import { fileURLToPath as __herdToPath } from 'node:url'; const __filename = __herdToPath(import.meta.url); const __dirname = __herdDirname(__filename);` },
  // ssh2's optional native bindings; it falls back to pure JS without them.
  external: ['cpu-features', '*.node'],
  loader: { '.sh': 'text' },
  define: {
    __HERD_HELPER__: JSON.stringify({ sha256, size: helper.length }),
    __HERD_VERSION__: JSON.stringify(pkg.version),
  },
  minify: true,
  keepNames: false,
});
chmodSync(join(dist, 'herd.js'), 0o755);
writeFileSync(join(dist, 'helper.sha256'), `${sha256}\n`);
