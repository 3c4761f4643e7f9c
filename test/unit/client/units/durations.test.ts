import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatDuration, parseWhen } from '../../../../src/client/units/durations.ts';
import { HerdError } from '../../../../src/protocol/errors.ts';
import { parseDuration } from '../../../../src/client/units/durations.ts';

test('--schedule times: +DURATION and RFC 3339 with a zone; anything else is refused', () => {
  const now = Date.parse('2026-11-23T10:00:00Z');
  assert.is(parseWhen('+10m', '--schedule', now), '2026-11-23T10:10:00.000Z');
  assert.is(parseWhen('2026-12-01T04:00:00+01:00', '--schedule', now), '2026-12-01T03:00:00.000Z');
  assert.is(parseWhen('2026-12-01 03:00Z', '--schedule', now), '2026-12-01T03:00:00.000Z');
  for (const bad of ['tomorrow', '2026-12-01T03:00:00', '+soon', '2026-13-01T00:00:00Z']) {
    assert.throws(() => parseWhen(bad, '--schedule', now), (e: HerdError) => e.code === 'INVALID_SPEC', bad);
  }
});

test('durations are short in tables', () => {
  assert.is(formatDuration(850), '850ms');
  assert.is(formatDuration(12_340), '12.3s');
  assert.is(formatDuration(245_000), '4m05s');
  assert.is(formatDuration(7_380_000), '2h03m');
  assert.is(formatDuration(273_600_000), '3d04h');
});

test('durations', () => {
  assert.is(parseDuration('10s', 'f'), 10_000);
  assert.is(parseDuration('1h30m', 'f'), 5_400_000);
  assert.is(parseDuration('90d', 'f'), 90 * 86_400_000);
  assert.is(parseDuration('2', 'f'), 2000);
  assert.throws(() => parseDuration('10 parsecs', '--ttl'), (e: HerdError) => e.code === 'INVALID_SPEC' && e.message.includes('--ttl'));
});

test.run();
