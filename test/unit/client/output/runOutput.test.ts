import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { outputFileName } from '../../../../src/client/output/runOutput.ts';

test('output file names are one-to-one', () => {
  assert.is(outputFileName('root@10.0.0.5:22'), 'root@10.0.0.5:22');
  assert.is(outputFileName('a/b'), 'a%2Fb');
  assert.is.not(outputFileName('a_b'), outputFileName('a/b'));
  assert.is(outputFileName('a%2Fb'), 'a%252Fb');
  assert.is(outputFileName('../x'), '..%2Fx');
  assert.is(outputFileName('é'), '%C3%A9');
});

test.run();
