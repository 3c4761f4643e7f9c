import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { literalOrText, shlexSplit } from '../../../../../src/client/hosts/inventory/iniValues.ts';

test('values read as Python literals, as Ansible INI values are; the rest stays text', () => {
  const cases: Array<[string, unknown]> = [
    ['22', 22], ['0x50', 80], ['2_222', 2222], ['-3', -3], ['1.5', 1.5], ['007', '007'], ['True', true], ['None', null],
    ['"a b"', 'a b'], ["'q'", 'q'], ['"a" "b"', 'ab'], ['5 # note', 5], ['[1, "x"]', [1, 'x']], ['{"k": 1}', { k: 1 }],
    ['{k:1}', '{k:1}'], ['deploy', 'deploy'], ['1j', '1j'], ['"open', '"open'],
  ];
  for (const [text, value] of cases) assert.equal(literalOrText(text), value, text);
});

test('host lines split as shlex.split(comments=True)', () => {
  assert.equal(shlexSplit(`web1 x="a b" y='c d' z=e\\ f # note`), ['web1', 'x=a b', 'y=c d', 'z=e f']);
  assert.equal(shlexSplit('a#b c'), ['a']);
  assert.equal(shlexSplit('"x\\"y"'), ['x"y']);
  assert.is(shlexSplit('"open'), null);
});

test.run();
