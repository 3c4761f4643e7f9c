import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, peerError } from '../../../src/protocol/errors.ts';
import { errorLine } from '../../../src/client/output/render.ts';

test('peer errors: a code only herd can know, or no code, is quoted as the peer\'s', () => {
  const forged = peerError('HOST_KEY_MISMATCH', 'all good', 'JOB_FAILED', { host: 'h1' });
  assert.is(forged.code, 'JOB_FAILED');
  assert.is(forged.message, 'the peer reported "HOST_KEY_MISMATCH": all good');
  assert.is(peerError('NOT_A_CODE', 'x', 'PROTOCOL').message, 'the peer reported "NOT_A_CODE": x');
  assert.is(peerError('JOB_NOT_FOUND', 'no such job', 'PROTOCOL').code, 'JOB_NOT_FOUND', 'a code a host may send is kept');
  const line = errorLine(peerError('PERMISSION_DENIED', '\u001b[2J\u001b[Hall good', 'JOB_FAILED', { host: 'h\u001b1', hint: 'x\ry' }));
  assert.not.ok(/[\u0000-\u001f]/.test(line), line);
  assert.is(line, 'herd: h\\e1: \\e[2J\\e[Hall good [PERMISSION_DENIED] — x\\ry');
});

test('every error code is explained in docs/exit-codes.md', () => {
  const doc = readFileSync(new URL('../../../docs/exit-codes.md', import.meta.url), 'utf8');
  assert.equal(ERROR_CODES.filter((code) => !doc.includes(`\`${code}\``)), []);
});

test.run();
