import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hostColour, hostColours } from '../../../../src/client/output/colour.ts';

test('a run\'s first twelve hosts each get a colour of their own; later ones one by name', () => {
  const hosts = Array.from({ length: 14 }, (_, i) => `web${i + 1}`);
  const colours = hostColours(hosts);
  assert.is(new Set(hosts.slice(0, 12).map(colours)).size, 12);
  assert.is(colours('web13'), hostColour('web13'));
  assert.is(colours('other'), hostColour('other'), 'a host not in the run still has its colour');
  assert.not.ok(hosts.map(colours).includes('31'), 'red stays for failures');
});

test.run();
