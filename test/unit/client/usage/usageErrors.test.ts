import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closest, editDistance, usageError, type CommandShape } from '../../../../src/client/usage/usageErrors.ts';

const COMMANDS: CommandShape[] = [
  { words: ['run'], required: [] },
  { words: ['job'], required: [] },
  { words: ['job', 'logs'], required: ['id'] },
  { words: ['job', 'log'], required: ['id'] },
  { words: ['job', 'list'], required: [] },
  { words: ['cert'], required: [] },
  { words: ['cert', 'issue'], required: ['name'] },
];

test('edit distance counts a swap as one; suggestions only for near misses', () => {
  assert.is(editDistance('lgos', 'logs'), 1);
  assert.is(editDistance('rn', 'run'), 1);
  assert.is(editDistance('kitten', 'sitting'), 3);
  assert.is(closest('rn', ['run', 'job', 'cert']), 'run');
  assert.is(closest('xyz', ['run', 'job', 'cert']), null);
});

test('yargs\' failures become sentences that say what to do', () => {
  const unknownCommand = usageError('Unknown argument: rn', ['rn', '--', 'true'], COMMANDS, []);
  assert.is(unknownCommand.message, 'no command "rn"');
  assert.is(unknownCommand.hint, 'did you mean herd run?');
  const sub = usageError('Unknown arguments: lgos, 1', ['job', 'lgos', '1'], COMMANDS, []);
  assert.equal([sub.message, sub.hint], ['job: no command "lgos"', 'did you mean herd job logs?']);
  const option = usageError('Unknown argument: max-memroy', ['run', '--max-memroy', '1G', '--', 'true'], COMMANDS, ['max-memory', 'max-cpu', 'H']);
  assert.equal([option.message, option.hint], ['run: no option --max-memroy', 'did you mean --max-memory? (herd run --help lists them)']);
  const missing = usageError('Not enough non-option arguments: got 0, need at least 1', ['job', 'logs'], COMMANDS, []);
  assert.is(missing.message, 'job logs: give a job id (herd job list shows them)');
  assert.is(usageError('Not enough non-option arguments: got 0, need at least 1', ['cert', 'issue'], COMMANDS, []).message, 'cert issue: give a name');
  const choice = usageError('Invalid values:\n  Argument: color, Given: "purple", Choices: "auto", "always", "never"', ['run', '--color', 'purple'], COMMANDS, []);
  assert.is(choice.message, '--color: "purple" is not one of "auto", "always", "never"');
  for (const e of [unknownCommand, sub, option, missing, choice]) assert.is(e.code, 'INVALID_SPEC');
});

test.run();
