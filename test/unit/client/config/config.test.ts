import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../../../src/client/config/config.ts';
import type { HerdError } from '../../../../src/protocol/errors.ts';

/* A config that cannot surprise: a named file that is missing, or a key herd does not know, is an error. */

function withFile(text: string | null, run: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'herd-config-'));
  try {
    const path = join(dir, 'config.yml');
    if (text !== null) writeFileSync(path, text);
    run(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const failure = (run: () => unknown): HerdError => {
  try {
    run();
  } catch (err) {
    return err as HerdError;
  }
  throw new Error('no error');
};

test('--config naming a missing file is a CONFIG error, never a new identity', () => {
  withFile(null, (path) => {
    const error = failure(() => loadConfig(path));
    assert.is(error.code, 'CONFIG');
    assert.match(error.message, `${path}: no such config file`);
    assert.match(error.hint ?? '', 'only the default config');
  });
});

test('an unknown key is an error with its line and the key meant', () => {
  withFile('hosts:\n  web1:\n    address: 10.0.0.5\n    usr: deploy\n', (path) => {
    const error = failure(() => loadConfig(path));
    assert.equal([error.code, error.message, error.hint], ['CONFIG', `${path}:4: unknown key hosts.….usr`, 'did you mean user?']);
  });
  withFile('default:\n  network: none\n', (path) => {
    assert.is(failure(() => loadConfig(path)).hint, 'did you mean defaults?');
  });
  withFile('defaults:\n  netwrok: none\n', (path) => {
    assert.match(failure(() => loadConfig(path)).message, ':2: unknown key defaults.netwrok');
  });
  withFile('hosts:\n  web1: { address: 10.0.0.5, user: root }\ngroups:\n  anything-goes: web1\ndefaults: { network: none }\n', (path) => {
    assert.equal(Object.keys(loadConfig(path).config.hosts ?? {}), ['web1'], 'names of hosts and groups are free');
  });
});

test.run();
