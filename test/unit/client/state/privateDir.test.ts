import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { privateDirectory } from '../../../../src/client/state/privateDir.ts';
import { codeOf } from '../../helpers/codeOf.ts';

test('the private runtime directory: a relative path is refused, not resolved', () => {
  assert.is(codeOf(() => privateDirectory('run/herd')), 'STATE_UNSAFE');
});

test.run();
