import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { uploadProgressLine } from '../../../../src/client/output/uploadProgress.ts';

test('the upload progress line: sent, to how many hosts, how fast', () => {
  const MiB = 1024 * 1024;
  assert.is(uploadProgressLine(120 * MiB, 43 * MiB, 10, 2000), 'herd: uploading 43 MiB: 120 MiB sent to 10 hosts (60 MiB/s)');
  assert.is(uploadProgressLine(10 * MiB, 40 * MiB, 1, 1000), 'herd: uploading 40 MiB: 10 of 40 MiB sent (10 MiB/s)');
  assert.is(uploadProgressLine(0, 40 * MiB, 1, 0), 'herd: uploading 40 MiB: 0 of 40 MiB sent (0 MiB/s)');
});

test.run();
