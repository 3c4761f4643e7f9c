import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

/*
 * The structural rules of src/, read from the imports themselves (issue 14):
 *   src/protocol imports nothing of src/client, src/remote or src/shared, and no runtime module (node:*);
 *   src/shared imports only src/protocol and src/shared (code both sides run);
 *   src/remote never imports src/client;
 *   src/client reaches src/remote only for the bootstrap script it ships;
 *   no import circle between files;
 *   test/unit mirrors src/: each test file is named after the module it tests (helpers/ aside).
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const src = join(root, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.ts$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Each file's imports: relative ones resolved to paths under src/, others by name. */
const graph = new Map<string, { local: string[]; modules: string[] }>();
for (const file of files(src)) {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const local: string[] = [];
  const modules: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2]!;
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec);
      assert.ok(existsSync(target), `${relative(root, file)} imports ${spec}, which does not exist`);
      local.push(target);
    } else modules.push(spec);
  }
  graph.set(file, { local, modules });
}
const area = (file: string): string => relative(src, file).split('/')[0]!;
const name = (file: string): string => relative(root, file);

test('src/protocol: no I/O, and nothing of either side', () => {
  for (const [file, { local, modules }] of graph) {
    if (area(file) !== 'protocol') continue;
    for (const target of local) assert.is(area(target), 'protocol', `${name(file)} imports ${name(target)}`);
    for (const module of modules) assert.not.ok(module.startsWith('node:'), `${name(file)} imports ${module}`);
  }
});

test('src/shared: only the protocol and itself', () => {
  for (const [file, { local }] of graph) {
    if (area(file) !== 'shared') continue;
    for (const target of local) assert.ok(['protocol', 'shared'].includes(area(target)), `${name(file)} imports ${name(target)}`);
  }
});

test('src/remote never imports src/client; src/client reaches src/remote only for the shell scripts it runs there (bootstrap.sh, supervisor.sh)', () => {
  for (const [file, { local }] of graph) {
    for (const target of local) {
      if (area(file) === 'remote') assert.is.not(area(target), 'client', `${name(file)} imports ${name(target)}`);
      if (area(file) === 'client' && area(target) === 'remote') assert.ok(/\/(bootstrap|supervisor)\.sh$/.test(target), `${name(file)} imports ${name(target)}`);
    }
  }
});

/** Import circles, each as the files on it; KNOWN_CIRCLES are being cut (issue 14) and may only shrink. */
const KNOWN_CIRCLES: string[] = [];

test('no import circle between files', () => {
  const circles = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const target of graph.get(file)?.local ?? []) {
      if (!graph.has(target)) continue;
      if (state.get(target) === 'open') circles.add(stack.slice(stack.indexOf(target)).map(name).sort().join(' → '));
      else if (state.get(target) === undefined) visit(target);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  const found = [...circles].sort();
  const unexpected = found.filter((c) => !KNOWN_CIRCLES.includes(c));
  assert.equal(unexpected, [], `import circles:\n${unexpected.join('\n')}`);
});

test('test/unit mirrors src/: each unit test file sits where its module does, under its name', () => {
  const unit = join(root, 'test', 'unit');
  const stray: string[] = [];
  for (const file of files(unit)) {
    const path = relative(unit, file);
    if (path.startsWith('helpers/') || path === 'layout.test.ts' || !path.endsWith('.test.ts')) continue;
    // session.fuzz.test.ts tests session.ts too.
    const module = join(src, path.replace(/(\.fuzz)?\.test\.ts$/, '.ts'));
    if (!existsSync(module)) stray.push(`test/unit/${path} (no ${relative(root, module)})`);
  }
  assert.equal(stray, [], `unit tests named after no module:\n${stray.join('\n')}`);
});

test.run();
