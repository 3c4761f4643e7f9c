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

await build({ ...common, entryPoints: [join(root, 'src/remote/helper.ts')], outfile: join(dist, 'helper.mjs'), banner: { js: requireShim }, loader: { '.sh': 'text' }, minify: process.env.HERD_NO_MINIFY !== "1" });
const helper = readFileSync(join(dist, 'helper.mjs'));
const sha256 = createHash('sha256').update(helper).digest('hex');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// ssh2 loads its native crypto (AES-GCM with one reused context, chacha20-poly1305) as
// './crypto/build/Release/sshcrypto.node', relative to its own file. Bundled, that would be looked
// for next to dist/herd.js and never found: ssh2 then makes an OpenSSL decipher per packet, which
// cost 0.3 s of CPU per GiB received. Resolve it through the ssh2 package instead.
const sshCryptoBinding = {
  name: 'ssh2-crypto-binding',
  setup(b) {
    b.onResolve({ filter: /sshcrypto\.node$/ }, () => ({ path: 'ssh2/lib/protocol/crypto/build/Release/sshcrypto.node', external: true }));
  },
};

// string-width (yargs' and cliui's, for laying out --help) compiles Unicode property regular
// expressions (RGI_Emoji and others) when its module loads: ~20 ms of every herd start, for help
// text most runs never print. Each importer gets a stand-in that loads its own copy on first use.
const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.namespace === 'lazy-string-width') return undefined;
      const real = await b.resolve('string-width', { resolveDir: args.resolveDir, kind: args.kind, namespace: 'lazy-string-width' });
      if (real.errors.length > 0) return { errors: real.errors };
      return { path: real.path, namespace: 'lazy-string-width' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-string-width' }, (args) => ({
      contents: `let real; export default function stringWidth(text, options) { real ??= require(${JSON.stringify(args.path)}).default; return real(text, options); }`,
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

// ssh2 does not negotiate OpenSSH host certificates: patched here to ask for them when herd does
// and hand the certificate to herd's hostVerifier (see src/client/transport/ssh2HostCerts.ts).
// Each replacement must match exactly once: an ssh2 that changed fails the build, never silently.
const hostCerts = join(root, 'src/client/transport/ssh2HostCerts.ts');
const ssh2Patches = {
  'constants.js': [
    [
      "const SUPPORTED_SERVER_HOST_KEY = DEFAULT_SERVER_HOST_KEY.concat([\n  'ssh-dss',\n]);",
      `const SUPPORTED_SERVER_HOST_KEY = DEFAULT_SERVER_HOST_KEY.concat(['ssh-dss', ...require(${JSON.stringify(hostCerts)}).CERT_HOST_KEY_ALGORITHMS]);`,
    ],
  ],
  'kex.js': [
    ["'use strict';", `'use strict';\nconst __herdCerts = require(${JSON.stringify(hostCerts)});`],
    ['if (sigType !== negotiated.serverHostKey) {', 'if (sigType !== __herdCerts.signatureType(negotiated.serverHostKey)) {'],
    [
      "bufferParser.init(this._hostKey, 0);\n          const name = bufferParser.readString(true);\n          const hostKey = this._hostKey.slice(bufferParser.pos());",
      "const __herdPlain = __herdCerts.plainHostKey(this._hostKey);\n          bufferParser.init(__herdPlain, 0);\n          const name = bufferParser.readString(true);\n          const hostKey = __herdPlain.slice(bufferParser.pos());",
    ],
    [
      "        let hashAlgo;\n        // Check if we need to override the default hash algorithm\n        switch (this.negotiated.serverHostKey) {\n          case 'rsa-sha2-256': hashAlgo = 'sha256'; break;\n          case 'rsa-sha2-512': hashAlgo = 'sha512'; break;\n        }\n\n        this._protocol._debug\n          && this._protocol._debug('Verifying signature ...');",
      "        let hashAlgo;\n        switch (__herdCerts.signatureType(this.negotiated.serverHostKey)) {\n          case 'rsa-sha2-256': hashAlgo = 'sha256'; break;\n          case 'rsa-sha2-512': hashAlgo = 'sha512'; break;\n        }\n\n        this._protocol._debug\n          && this._protocol._debug('Verifying signature ...');",
    ],
    [
      'if (hostPubKeyType !== this.negotiated.serverHostKey) {',
      'if (hostPubKeyType !== this.negotiated.serverHostKey && !__herdCerts.certificateKeyMatches(this.negotiated.serverHostKey, hostPubKeyType)) {',
    ],
  ],
};
const ssh2HostCertificates = {
  name: 'ssh2-host-certificates',
  setup(b) {
    b.onLoad({ filter: /ssh2[\\/]lib[\\/]protocol[\\/](constants|kex)\.js$/ }, (args) => {
      let contents = readFileSync(args.path, 'utf8');
      for (const [from, to] of ssh2Patches[args.path.split(/[\\/]/).at(-1)]) {
        const count = contents.split(from).length - 1;
        if (count !== 1) throw new Error(`ssh2-host-certificates: ${args.path} has ${count} copies of ${JSON.stringify(from.slice(0, 60))}; ssh2 changed, update scripts/build.mjs`);
        contents = contents.replace(from, () => to);
      }
      return { contents, loader: 'js' };
    });
  },
};

await build({
  ...common,
  entryPoints: [join(root, 'src/client/cli.ts')],
  outfile: join(dist, 'herd.js'),
  // ssh2 also looks for its optional native module relative to __dirname.
  banner: { js: `#!/usr/bin/env node\n${requireShim} import { dirname as __herdDirname } from 'node:path'; import { fileURLToPath as __herdToPath } from 'node:url'; const __filename = __herdToPath(import.meta.url); const __dirname = __herdDirname(__filename);` },
  // ssh2's optional native bindings; it falls back to pure JS without them.
  external: ['cpu-features', '*.node'],
  plugins: [sshCryptoBinding, lazyStringWidth, ssh2HostCertificates],
  loader: { '.sh': 'text' },
  define: {
    __HERD_HELPER__: JSON.stringify({ sha256, size: helper.length }),
    __HERD_VERSION__: JSON.stringify(pkg.version),
  },
  minify: process.env.HERD_NO_MINIFY !== "1",
  keepNames: false,
});
chmodSync(join(dist, 'herd.js'), 0o755);
writeFileSync(join(dist, 'helper.sha256'), `${sha256}\n`);
