import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseExitLine, parseInitReport } from '../../../../src/remote/sandbox/initControl.ts';
import { INIT_SCRIPT, USERNS_SCRIPT } from '../../../../src/remote/sandbox/init.ts';

test('init reports: each line of the declared protocol, and what is not one', () => {
  assert.equal(parseInitReport('pid 4242'), { kind: 'pid', pid: 4242 });
  assert.equal(parseInitReport('ready'), { kind: 'ready' });
  assert.equal(parseInitReport('userns 17'), { kind: 'userns', pid: 17 });
  assert.equal(parseInitReport('fail mount mount: /x: permission denied'), { kind: 'fail', step: 'mount', message: 'mount: /x: permission denied' });
  assert.equal(parseInitReport('pid 1'), { kind: 'other', text: 'pid 1' }, 'pid 1 is no host pid an init could have');
  assert.equal(parseInitReport('pid x'), { kind: 'other', text: 'pid x' });
  assert.equal(parseInitReport('setpriv: unknown capability "sys_admin"  '), { kind: 'other', text: 'setpriv: unknown capability "sys_admin"' });
});

test('the status file: the exit line, or none', () => {
  assert.is(parseExitLine('exit 3\n'), 3);
  assert.is(parseExitLine(''), null);
  assert.is(parseExitLine('exit\n'), null);
});

test('the scripts speak the declared lines', () => {
  for (const line of ['printf "pid %s\\n"', 'printf "fail %s %s\\n"', 'exit 125', '"$go" = go']) assert.ok(INIT_SCRIPT.includes(line), line);
  assert.ok(USERNS_SCRIPT.includes('printf "userns %s\\n"'));
});

test.run();
