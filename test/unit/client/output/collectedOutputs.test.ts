import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { naturalCompare, unifiedDiff } from '../../../../src/client/output/collectedOutputs.ts';

test('host names in reading order: numbers as numbers, then by padding', () => {
  const names = ['web10', 'web2', 'db1', 'web1', 'web02', 'rack2-n10', 'rack2-n9', 'rack10-n1', 'n99999999999999999999'];
  assert.equal([...names].sort(naturalCompare), ['db1', 'n99999999999999999999', 'rack2-n9', 'rack2-n10', 'rack10-n1', 'web1', 'web2', 'web02', 'web10']);
});

test('a unified diff titled by hosts; nothing for equal outputs; a missing final newline is said', () => {
  assert.is(unifiedDiff('a\nb\n', 'a\nb\n', 'x', 'y'), '');
  assert.is(unifiedDiff('a\nb\nc\n', 'a\nB\nc\n', 'web[1-3] (3)', 'db1 (1)'), '--- web[1-3] (3)\n+++ db1 (1)\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n');
  assert.match(unifiedDiff('a\n', 'a', 'x', 'y'), '\\ No newline at end of file');
});

test.run();
