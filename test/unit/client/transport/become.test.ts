import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sudoRefusal } from '../../../../src/client/transport/become.ts';

test('what sudo says becomes BECOME_FAILED with the way out; other stderr is not sudo\'s', () => {
  const become = { user: 'root', askPassword: false };
  const cases: Array<[string, RegExp]> = [
    ['sudo: a password is required\n', /needs a password to become root/],
    ['sudo: 3 incorrect password attempts\n', /refused the password/],
    ['deploy is not in the sudoers file.  This incident will be reported.\n', /may not sudo to root/],
    ['sh: 1: sudo: not found\n', /no sudo on the host/],
    ['sudo: something new\n', /sudo did not run herd's helper: sudo: something new/],
  ];
  for (const [said, message] of cases) {
    const error = sudoRefusal(said, become);
    assert.is(error?.code, 'BECOME_FAILED', said);
    assert.match(error!.message, message);
  }
  assert.is(sudoRefusal('bash: warning: setlocale\n', become), null);
});

test.run();
