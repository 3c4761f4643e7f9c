import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { idMapLine, JOB_IDS, rangeConflicts } from '../../../../src/remote/sandbox/idmap.ts';

test('job ids: the range is refused where the host already has users, groups or subordinate ids in it', () => {
  const files: Record<string, string> = {
    '/etc/passwd': 'root:x:0:0::/root:/bin/sh\nodd:x:1879048200:5::/:/bin/sh\n',
    '/etc/group': 'root:x:0:\n',
    '/etc/subuid': 'alice:100000:65536\nbob:1879000000:100000\n',
  };
  const found = rangeConflicts(JOB_IDS, (path) => files[path] ?? null);
  assert.equal(found, ['/etc/passwd: odd (1879048200)', '/etc/subuid: bob (1879000000+100000)']);
  assert.equal(rangeConflicts(JOB_IDS, () => 'root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n'), []);
  assert.is(idMapLine(JOB_IDS), '0 1879048192 65536\n');
});

test.run();
