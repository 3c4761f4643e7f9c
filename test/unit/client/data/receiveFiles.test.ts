import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Message } from '../../../../src/protocol/messages.ts';
import type { UploadEntry } from '../../../../src/protocol/uploads/manifest.ts';
import type { HostConnection } from '../../../../src/client/connection/hostConnection.ts';
import { receiveJobFiles } from '../../../../src/client/data/receiveFiles.ts';

type Step = { entry: UploadEntry } | { bytes: string };

/** A host that answers a job-read with these entries and bytes, as a hostile one may. */
function hostSending(steps: Step[]): HostConnection {
  return {
    requestStream: async (_message: Message, handlers: { message(m: Message): 'more' | 'end'; data?(channel: 1 | 2, bytes: Uint8Array, done: () => void): void }) => {
      for (const step of steps) {
        if ('entry' in step) handlers.message({ t: 'read-entry', entry: step.entry });
        else await new Promise<void>((resolve) => handlers.data!(1, new TextEncoder().encode(step.bytes), resolve));
      }
      handlers.message({ t: 'read-done', files: 0, bytes: 0, skipped: [] });
    },
  } as unknown as HostConnection;
}

const within = async (steps: Step[], check: (base: string, outside: string, outcome: Error | null) => void): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'herd-receive-'));
  try {
    const base = join(dir, 'local');
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    let outcome: Error | null = null;
    try {
      await receiveJobFiles(hostSending(steps), 'abc', 'x', base);
    } catch (err) {
      outcome = err as Error;
    }
    check(base, outside, outcome);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test('a well-behaved answer: a directory, a file with its bytes, a symlink', async () => {
  await within([{ entry: { kind: 'dir', path: 'd', mode: 0o750 } }, { entry: { kind: 'file', path: 'd/f', mode: 0o600, size: 5 } }, { bytes: 'he' }, { bytes: 'llo' }, { entry: { kind: 'symlink', path: 'd/l', target: 'f' } }], (base, _outside, outcome) => {
    assert.is(outcome, null);
    assert.is(readFileSync(join(base, 'd', 'f'), 'utf8'), 'hello');
    assert.is(lstatSync(join(base, 'd')).mode & 0o777, 0o750);
    assert.ok(lstatSync(join(base, 'd', 'l')).isSymbolicLink());
  });
});

test('a hostile host cannot make the client write outside the directory', async () => {
  const attacks: Array<[string, (outside: string) => Step[]]> = [
    ['a ".." path', () => [{ entry: { kind: 'file', path: '../outside/x', mode: 0o644, size: 1 } }, { bytes: 'x' }]],
    ['an absolute path', (outside) => [{ entry: { kind: 'file', path: join(outside, 'x'), mode: 0o644, size: 1 } }, { bytes: 'x' }]],
    ['a file under its symlink', (outside) => [{ entry: { kind: 'symlink', path: 'l', target: outside } }, { entry: { kind: 'file', path: 'l/x', mode: 0o644, size: 1 } }, { bytes: 'x' }]],
    ['a directory under its symlink', (outside) => [{ entry: { kind: 'symlink', path: 'l', target: outside } }, { entry: { kind: 'dir', path: 'l/x', mode: 0o755 } }]],
    ['a file in a directory it never sent', () => [{ entry: { kind: 'file', path: 'nowhere/x', mode: 0o644, size: 1 } }, { bytes: 'x' }]],
    ['bytes outside a file', () => [{ entry: { kind: 'dir', path: 'd', mode: 0o755 } }, { bytes: 'x' }]],
  ];
  for (const [what, steps] of attacks) {
    const dir = mkdtempSync(join(tmpdir(), 'herd-receive-'));
    try {
      const outside = join(dir, 'outside');
      mkdirSync(outside);
      let outcome: Error | null = null;
      try {
        await receiveJobFiles(hostSending(steps(outside)), 'abc', 'x', join(dir, 'local'));
      } catch (err) {
        outcome = err as Error;
      }
      assert.ok(outcome !== null, `${what}: accepted`);
      assert.not.ok(existsSync(join(outside, 'x')), `${what}: written outside`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('a symlink already in the local directory is replaced, not written through', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'herd-receive-'));
  try {
    const base = join(dir, 'local');
    mkdirSync(base);
    mkdirSync(join(dir, 'outside'));
    symlinkSync(join(dir, 'outside', 'victim'), join(base, 'f'));
    await receiveJobFiles(hostSending([{ entry: { kind: 'file', path: 'f', mode: 0o644, size: 3 } }, { bytes: 'new' }]), 'abc', 'f', base);
    assert.not.ok(existsSync(join(dir, 'outside', 'victim')));
    assert.ok(lstatSync(join(base, 'f')).isFile());
    assert.is(readFileSync(join(base, 'f'), 'utf8'), 'new');
    const existingDirLink = join(base, 'd');
    symlinkSync(join(dir, 'outside'), existingDirLink);
    let refused: Error | null = null;
    try {
      await receiveJobFiles(hostSending([{ entry: { kind: 'dir', path: 'd', mode: 0o755 } }, { entry: { kind: 'file', path: 'd/x', mode: 0o644, size: 1 } }, { bytes: 'x' }]), 'abc', 'd', base);
    } catch (err) {
      refused = err as Error;
    }
    assert.match(String(refused?.message), /exists and is not a directory/);
    assert.not.ok(existsSync(join(dir, 'outside', 'x')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
