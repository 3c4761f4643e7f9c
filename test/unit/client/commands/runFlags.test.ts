import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planRun, readRunFlags, type RunOptions } from '../../../../src/client/commands/runFlags.ts';
import { codeOf } from '../../helpers/codeOf.ts';

/** The options yargs would give for `herd run [flags] -- true`, with its defaults. */
function flags(more: Record<string, unknown> = {}): RunOptions {
  return readRunFlags({ cmd: [], '--': ['true'], env: [], grace: '10s', parallel: 64, connectTimeout: '15s', stdin: true, color: 'auto', ...more });
}

test('a plan: the request each host gets, with only the fields that were asked for', () => {
  const plan = planRun(flags({ env: ['A=1', 'B=x=y'], maxMemory: '64M', timeout: '30s' }), undefined);
  assert.equal(plan.request, { argv: ['true'], env: { A: '1', B: 'x=y' }, limits: { memoryBytes: 64 << 20 }, timeoutMs: 30_000, graceMs: 10_000 });
  assert.equal([plan.detach, plan.output, plan.parallel, plan.retries, plan.colour], [false, 'live', 64, 0, 'auto']);
});

test('--schedule implies --detach; the config\'s network is the default, --network wins', () => {
  const scheduled = planRun(flags({ schedule: '+10m' }), 'lab');
  assert.ok(scheduled.detach && scheduled.request.detach === true);
  assert.is(scheduled.request.network, 'lab');
  assert.is(planRun(flags({ network: 'none' }), 'lab').request.network, 'none');
});

test('bad flags are INVALID_SPEC before any host is contacted', () => {
  for (const more of [{ '--': [] }, { json: true, gather: true }, { timeout: '0ms' }, { network: 'x y' }, { color: 'blue' }, { parallel: 0 }, { retries: -1 }, { env: ['NOEQUALS'] }, { user: 'root' }, { maxCpu: 'lots' }]) {
    assert.is(codeOf(() => planRun(flags(more), undefined)), 'INVALID_SPEC', JSON.stringify(more));
  }
});

test.run();
