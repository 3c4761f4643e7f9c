import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { environmentBlock } from '../../../../src/remote/jobs/jobPlan.ts';
import { ENV_SCRIPT } from '../../../../src/remote/sandbox/init.ts';
import { spawnSync } from 'node:child_process';

test('env step: reads the environment exactly as sent from fd 3, exports it and nothing of its own, then execs', () => {
  const env = { A: '1', ODD: "it's a\n line\twith $HOME and `x`\n.\n", E: '', LAST: 'x=y', l: 'n', n: 'v' };
  // What the init leaves the step: a fixed PATH only.
  const shell = spawnSync('/bin/sh', ['-c', `/bin/sh -c "$0" herd-env /usr/bin/env 3<&0`, ENV_SCRIPT], { env: { PATH: '/usr/bin:/bin' }, input: `${environmentBlock(env)}more input for the command\n` });
  const seen = Object.fromEntries(
    shell.stdout.toString().replace(/\n$/, '').split(/\n(?=[A-Za-z_]+=)/).filter((l) => l !== '').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  delete seen.PWD;
  assert.equal(seen, { PATH: '/usr/bin:/bin', ...env });
});

test.run();
