import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkTtl, expiryNotice, MAX_CERT_TTL_SECONDS } from '../../../../src/client/config/lifetimes.ts';
import { codeOf } from '../../helpers/codeOf.ts';

test('a TTL from a minute to the 90-day maximum', () => {
  assert.is(MAX_CERT_TTL_SECONDS, 90 * 86_400);
  assert.is(checkTtl(90 * 86_400_000, '90d'), MAX_CERT_TTL_SECONDS);
  assert.is(checkTtl(60_000, '1m'), 60);
  assert.is(codeOf(() => checkTtl(90 * 86_400_000 + 1000, '90d1s')), 'INVALID_SPEC');
  assert.is(codeOf(() => checkTtl(59_000, '59s')), 'INVALID_SPEC');
});

test('the expiry notice: none until a week before, then the way out for each holder', () => {
  const now = 1_800_000_000;
  const body = (left: number) => ({ subject: 'sam', role: 'user' as const, notAfter: now + left });
  assert.is(expiryNotice(body(8 * 86_400), false, now), null);
  assert.match(expiryNotice(body(3 * 86_400), false, now) ?? '', 'expires in 3d00h');
  assert.match(expiryNotice(body(3 * 86_400), false, now) ?? '', 'herd cert issue sam --role user');
  assert.match(expiryNotice(body(3600), true, now) ?? '', 'renew it: herd cert renew');
  assert.match(expiryNotice(body(-5), true, now) ?? '', 'expired at');
});

test.run();
