import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { HerdError } from '../../../../src/protocol/errors.ts';
import { parseCidr } from '../../../../src/remote/net/cidr.ts';
import { NetworkRegistry } from '../../../../src/remote/net/registry.ts';

const root = mkdtempSync(join(tmpdir(), 'herd-registry-'));
let n = 0;
const fresh = (): NetworkRegistry => new NetworkRegistry(join(root, `networks-${++n}`));
const codeAndMessage = (fn: () => unknown): string => {
  try {
    fn();
    return 'none';
  } catch (err) {
    return `${(err as HerdError).code}: ${(err as Error).message}`;
  }
};
const route = (cidr: string, device: string) => (cidr === '0.0.0.0/0' ? { base: 0, prefix: 0, device } : { ...parseCidr(cidr, 'route'), device });

test('the built-in networks are always there; one made is stored with its defaults, found by name', () => {
  const registry = fresh();
  const builtins = registry.all().map((s) => s.name);
  assert.ok(builtins.includes('bridge') && builtins.includes('isolated'), builtins.join(','));
  const spec = registry.add({ name: 'lab', cidr: '10.77.0.0/24' }, []);
  assert.equal([spec.gateway, spec.dns, spec.builtin, spec.isolated], ['10.77.0.1', [], false, false]);
  assert.equal(registry.find('lab'), spec);
  assert.equal(new NetworkRegistry(registry.dir).find('lab'), spec, 'read back from disk by a new agent');
  assert.is(registry.jobCount(spec), 0);
  assert.match(codeAndMessage(() => registry.find('nope')), /^NETWORK: no network "nope"/);
});

test('a new network may overlap neither another herd network nor a route of the host (herd\'s own bridges aside)', () => {
  const registry = fresh();
  const lab = registry.add({ name: 'lab', cidr: '10.77.0.0/24' }, []);
  assert.match(codeAndMessage(() => registry.add({ name: 'lab', cidr: '10.78.0.0/24' }, [])), /^NETWORK: network lab already exists/);
  assert.match(codeAndMessage(() => registry.add({ name: 'lab2', cidr: '10.77.0.128/25' }, [])), /overlaps herd network lab/);
  assert.match(codeAndMessage(() => registry.add({ name: 'lan', cidr: '192.168.1.0/24' }, [route('192.168.0.0/16', 'eth0')])), /overlaps a route of this host: 192\.168\.0\.0\/16 dev eth0/);
  assert.is(codeAndMessage(() => registry.add({ name: 'lab3', cidr: '10.79.0.0/24' }, [route('10.79.0.0/24', 'herd0')])), 'none', "a route through herd's own bridge does not count");
  assert.match(codeAndMessage(() => registry.add({ name: 'lab5', cidr: '10.83.0.0/24' }, [route('10.83.0.0/24', 'hn-lab5')])), /overlaps a route/, "a bridge of that name not yet herd's does");
  assert.is.not(lab.bridge, 'herd0');
  assert.is(codeAndMessage(() => registry.add({ name: 'lab4', cidr: '10.80.0.0/24' }, [route('0.0.0.0/0', 'eth0')])), 'none', 'the default route overlaps everything and is not counted');
  assert.match(codeAndMessage(() => registry.add({ name: 'bad name!', cidr: '10.81.0.0/24' }, [])), /^INVALID_SPEC/);
});

test('deleting forgets a made network and its files; a built-in one cannot go', () => {
  const registry = fresh();
  const spec = registry.add({ name: 'tmp1', cidr: '10.90.0.0/24' }, []);
  registry.leases(spec);
  assert.ok(registry.hasLeases(spec));
  registry.delete(spec);
  assert.not.ok(existsSync(registry.dirOf(spec)));
  assert.not.ok(registry.all().some((s) => s.name === 'tmp1'));
  assert.match(codeAndMessage(() => registry.delete(registry.find('bridge'))), /built in/);
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test.run();
