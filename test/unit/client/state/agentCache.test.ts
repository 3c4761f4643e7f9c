import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isAgentSocketPath } from '../../../../src/client/state/agentCache.ts';
import { agentTag } from '../../../../src/shared/agentPaths.ts';

test('agent socket paths: only herd\'s own shape, in a herd state directory', () => {
  const tag = 'a'.repeat(64);
  const name = `agent-${agentTag(tag)}.sock`;
  assert.ok(isAgentSocketPath(`/var/lib/herd/${name}`, tag));
  assert.ok(isAgentSocketPath(`/home/u/.cache/herd/${name}`, tag));
  assert.not.ok(isAgentSocketPath(`/tmp/${name}`, tag), 'a directory the host chose');
  assert.not.ok(isAgentSocketPath(`/var/lib/herd/../../tmp/herd/${name}`, tag));
  assert.not.ok(isAgentSocketPath(`herd/${name}`, tag));
  assert.not.ok(isAgentSocketPath('/var/lib/herd/agent-other.sock', tag));
});

test.run();
