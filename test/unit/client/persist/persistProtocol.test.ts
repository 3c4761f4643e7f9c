import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HerdError } from '../../../../src/protocol/errors.ts';
import { clientProof, connectionKey, daemonProof, parseAnswer, parseRequest, PERSIST_PROTOCOL, proofMatches, takeLine, type PersistRequest } from '../../../../src/client/persist/persistProtocol.ts';

const request: PersistRequest = {
  v: PERSIST_PROTOCOL,
  auth: 'x',
  target: { kind: 'ssh', name: 'web1', address: '10.0.0.5', port: 22, user: 'root' },
  jumps: {},
  acceptNew: false,
  connectTimeoutMs: 15000,
  persistMs: 60000,
  open: { kind: 'forward', socketPath: '/var/lib/herd/agent-abc.sock' },
};

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return err instanceof HerdError ? err.code : 'not a HerdError';
  }
  return 'no error';
};

test('persist requests: a good one parses; garbage, other versions and wrong shapes are errors, never crashes', () => {
  assert.equal(parseRequest(JSON.stringify(request)), request);
  const nodelay: PersistRequest = { ...request, open: { kind: 'nodelay' } };
  assert.equal(parseRequest(JSON.stringify(nodelay)), nodelay);
  assert.is(codeOf(() => parseRequest('garbage')), 'PROTOCOL');
  assert.is(codeOf(() => parseRequest('null')), 'PROTOCOL');
  assert.is(codeOf(() => parseRequest(JSON.stringify({ ...request, v: PERSIST_PROTOCOL + 1 }))), 'VERSION_MISMATCH');
  assert.is(codeOf(() => parseRequest(JSON.stringify({ ...request, target: { ...request.target, port: '22' } }))), 'PROTOCOL');
  assert.is(codeOf(() => parseRequest(JSON.stringify({ ...request, open: { kind: 'shell' } }))), 'PROTOCOL');
  assert.is(codeOf(() => parseRequest(JSON.stringify({ ...request, persistMs: -1 }))), 'PROTOCOL');
  assert.is(codeOf(() => parseRequest(JSON.stringify({ ...request, persistMs: 0 }))), 'PROTOCOL', 'no request can make the daemon drop every connection');
  assert.is(codeOf(() => parseRequest(JSON.stringify({ ...request, persistMs: 1e12 }))), 'PROTOCOL');
  const { auth: _auth, ...unauthenticated } = request;
  assert.is(codeOf(() => parseRequest(JSON.stringify(unauthenticated))), 'PROTOCOL');
  assert.is(codeOf(() => parseAnswer('{"nope":1}')), 'PROTOCOL');
  assert.equal(parseAnswer('{"ok":true,"reused":false}'), { ok: true, reused: false });
});

test('persist proofs: each side\'s proof binds both nonces and the key; a wrong one does not match', () => {
  const key = new Uint8Array(32).fill(7);
  const proof = daemonProof(key, 'nc', 'nd');
  assert.ok(proofMatches(proof, daemonProof(key, 'nc', 'nd')));
  assert.not.ok(proofMatches(proof, daemonProof(new Uint8Array(32).fill(8), 'nc', 'nd')), 'another key');
  assert.not.ok(proofMatches(proof, daemonProof(key, 'nc2', 'nd')), 'another client nonce');
  assert.not.ok(proofMatches(proof, clientProof(key, 'nc', 'nd')), 'a client proof is not a daemon proof');
  assert.not.ok(proofMatches(proof, undefined));
  assert.not.ok(proofMatches(proof, proof.slice(1)));
});

test('lines: split at the first newline, the rest kept; an endless line is refused', () => {
  assert.is(takeLine(Buffer.from('partial')), null);
  const taken = takeLine(Buffer.from('{"a":1}\n\u0000rest'))!;
  assert.is(taken.line, '{"a":1}');
  assert.equal([...taken.rest], [0, ...Buffer.from('rest')]);
  assert.is(codeOf(() => takeLine(Buffer.alloc(300 * 1024, 0x61))), 'PROTOCOL');
});

test('the pool key: the same host the same way shares a connection; another key file or known_hosts does not', () => {
  const key = connectionKey(request);
  assert.is(connectionKey({ ...request, open: { kind: 'exec', command: 'sh' }, persistMs: 1 }), key, 'what is opened and for how long do not matter');
  assert.is.not(connectionKey({ ...request, knownHostsFile: '/tmp/kh' }), key);
  assert.is.not(connectionKey({ ...request, target: { ...request.target, user: 'deploy' } }), key);
  assert.is.not(connectionKey({ ...request, authSock: '/tmp/agent.sock' }), key);
});

test.run();
