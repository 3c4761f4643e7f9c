import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { HerdError } from '../../../../src/protocol/errors.ts';
import type { JobInfo, Message, Request, RequestOf, RequestType, Role } from '../../../../src/protocol/messages.ts';
import { ROLES } from '../../../../src/protocol/roles.ts';
import type { Session } from '../../../../src/protocol/session.ts';
import type { AgentState } from '../../../../src/remote/agent/agentState.ts';
import type { RequestContext } from '../../../../src/remote/requests/context.ts';
import { StreamRegistry } from '../../../../src/remote/requests/streams.ts';
import { dispatch, isRequest } from '../../../../src/remote/requests/table.ts';
import { Auditor } from '../../../../src/remote/audit/auditor.ts';
import type { AuditLog } from '../../../../src/remote/audit/auditLog.ts';
import { PendingAudit } from '../../../../src/remote/audit/pendingAudit.ts';
import type { AuditEntry } from '../../../../src/shared/auditChain.ts';

/*
 * The agent's request dispatch, each request type with each role. The policy is written out here
 * on its own, not read from the table: a route that changes its permission fails this test.
 */
const ALL: readonly Role[] = ROLES;
const MAY: { [T in RequestType]: readonly Role[] } = {
  run: ['admin', 'user'],
  signal: ['admin', 'user'],
  'network-list': ALL,
  'network-create': ['admin'],
  'network-remove': ['admin'],
  'job-list': ALL,
  'job-status': ALL,
  'job-wait': ALL,
  'job-logs': ALL,
  'job-stop': ['admin', 'user'],
  'job-delete': ['admin', 'user'],
  'job-prune': ['admin', 'user'],
  'trust-list': ALL,
  'trust-remove': ['admin'],
  'audit-read': ALL,
  stage: ['admin', 'user'],
  'job-read': ['admin', 'user'],
};

/** One request of each type; a new type without a sample here does not compile. */
const SAMPLES: { [T in RequestType]: RequestOf<T> } = {
  run: { t: 'run', argv: ['true'], env: {} },
  signal: { t: 'signal', signal: 'TERM' },
  'network-list': { t: 'network-list' },
  'network-create': { t: 'network-create', network: { name: 'n1', cidr: '10.9.0.0/24' } },
  'network-remove': { t: 'network-remove', name: 'n1' },
  'job-list': { t: 'job-list' },
  'job-status': { t: 'job-status', id: 'abc' },
  'job-wait': { t: 'job-wait', id: 'abc' },
  'job-logs': { t: 'job-logs', id: 'abc', follow: false, stdout: true, stderr: true, timestamps: false },
  stage: { t: 'stage', manifestBytes: 0 },
  'job-read': { t: 'job-read', id: 'abc', path: 'x' },
  'job-stop': { t: 'job-stop', id: 'abc', graceMs: 0 },
  'job-delete': { t: 'job-delete', id: 'abc' },
  'job-prune': { t: 'job-prune' },
  'trust-list': { t: 'trust-list' },
  'trust-remove': { t: 'trust-remove', ca: '0123456789abcdef' },
  'audit-read': { t: 'audit-read', all: true },
};

class Touched extends Error {}

/** An agent any use of which throws Touched: a refused request must not get as far as the host's state. */
const untouchable = new Proxy({}, {
  get(_target, key) {
    throw new Touched(`the handler used agent.${String(key)}`);
  },
}) as AgentState;

interface Wire {
  sent: Message[];
  closed: number[];
  /** The audit lines the request left. */
  audited: AuditEntry[];
}

const CA = 'ca00000000000001';

function contextFor(role: Role, agent: AgentState, subject = `${role}-1`, ca = CA): { context: RequestContext; wire: Wire } {
  const wire: Wire = { sent: [], closed: [], audited: [] };
  const log = { dir: '/nowhere', append: (entry: AuditEntry) => void wire.audited.push(entry) } as unknown as AuditLog;
  const session = {
    sendMessage: (_stream: number, message: Message) => void wire.sent.push(message),
    close: (stream: number) => void wire.closed.push(stream),
    write: () => true,
  } as unknown as Session;
  const origin = { login: 'herd', from: '10.0.0.9:50000' };
  const audit = new PendingAudit(new Auditor(log, 'testhost', 'hostid0000000001'), 'request', { subject, serial: 's1', role, ca }, origin, undefined, undefined);
  return { context: { agent, caller: { subject, role, ca, serial: 's1' }, stream: 7, session, streams: new StreamRegistry(), facts: { owner: true }, origin, audit }, wire };
}

type Outcome = 'denied' | 'handled';

function outcome(request: Request, context: RequestContext, wire: Wire): Outcome {
  try {
    dispatch(request, context);
  } catch (err) {
    if (err instanceof Touched) return 'handled';
    if ((err as HerdError).code === 'PERMISSION_DENIED') {
      assert.equal({ sent: wire.sent, closed: wire.closed }, { sent: [], closed: [] }, `${request.t}: a refused request sent nothing`);
      // …and left its line in the audit log, with who asked and why it was refused.
      assert.is(wire.audited.length, 1, `${request.t}: one audit line`);
      assert.is(wire.audited[0]!.outcome, 'refused');
      assert.is(wire.audited[0]!.code, 'PERMISSION_DENIED');
      assert.is(wire.audited[0]!.subject, context.caller.subject);
      assert.is(wire.audited[0]!.login, 'herd');
      return 'denied';
    }
    throw err;
  }
  // The signal route needs no host state: it closes a stream that has no job.
  assert.ok(wire.sent.length + wire.closed.length > 0, `${request.t}: handled, and answered`);
  return 'handled';
}

for (const type of Object.keys(SAMPLES) as RequestType[]) {
  test(`dispatch: ${type} by each role`, () => {
    for (const role of ROLES) {
      const { context, wire } = contextFor(role, untouchable);
      const expected: Outcome = MAY[type].includes(role) ? 'handled' : 'denied';
      assert.is(outcome(SAMPLES[type], context, wire), expected, `${type} by ${role}`);
    }
  });
}

test('every request type has a route, and nothing else is a request', () => {
  for (const type of Object.keys(SAMPLES)) assert.ok(isRequest({ t: type } as Message), type);
  for (const t of ['hello', 'auth', 'welcome', 'started', 'exit', 'jobs', 'networks', 'trust', 'done', 'error', 'log-at', 'log-note']) {
    assert.not.ok(isRequest({ t } as Message), t);
  }
});

test('run --network host leaves the sandbox: admin only', () => {
  const request: Request = { t: 'run', argv: ['true'], env: {}, network: 'host' };
  for (const role of ROLES) {
    const { context, wire } = contextFor(role, untouchable);
    assert.is(outcome(request, context, wire), role === 'admin' ? 'handled' : 'denied', role);
  }
  const { context } = contextFor('user', untouchable, 'uma');
  try {
    dispatch(request, context);
    assert.unreachable('a user ran in the host network');
  } catch (err) {
    assert.match((err as Error).message, `role "user" (uma) may not run jobs in the host's network`);
    assert.match((err as HerdError).hint ?? '', 'admin certificate');
  }
});

test('run --pid host and --bind leave the sandbox: admin only, whatever else is asked', () => {
  const requests: Request[] = [
    { t: 'run', argv: ['true'], env: {}, pid: 'host' },
    { t: 'run', argv: ['true'], env: {}, network: 'none', binds: [{ host: '/etc', job: '/work/etc', readOnly: true }] },
  ];
  for (const request of requests) {
    for (const role of ROLES) {
      const { context, wire } = contextFor(role, untouchable);
      assert.is(outcome(request, context, wire), role === 'admin' ? 'handled' : 'denied', `${role} ${JSON.stringify(request)}`);
    }
  }
  const { context } = contextFor('user', untouchable, 'uma');
  assert.throws(() => dispatch(requests[0]!, context), /may not run jobs that see the host's processes \(--pid host\)/);
  assert.throws(() => dispatch(requests[1]!, contextFor('user', untouchable, 'uma').context), /may not bind host paths into jobs \(--bind\)/);
});

test('run --isolation none runs on the host itself: admin only, whatever the network', () => {
  for (const network of [undefined, 'host', 'none']) {
    const request: Request = { t: 'run', argv: ['true'], env: {}, isolation: 'none', ...(network === undefined ? {} : { network }) };
    for (const role of ROLES) {
      const { context, wire } = contextFor(role, untouchable);
      assert.is(outcome(request, context, wire), role === 'admin' ? 'handled' : 'denied', `${role} ${network}`);
    }
  }
  const { context } = contextFor('user', untouchable, 'uma');
  try {
    dispatch({ t: 'run', argv: ['true'], env: {}, isolation: 'none' }, context);
    assert.unreachable('a user ran in host mode');
  } catch (err) {
    assert.match((err as Error).message, 'role "user" (uma) may not run commands on the host itself (--isolation none)');
  }
});

/** A job book of finished jobs, owned as given ("subject" of CA, or "subject@CA"): enough for stop, delete and prune. */
function bookOf(owners: Record<string, string>, legacyCa: string | null = null): AgentState {
  const info = (id: string): JobInfo => {
    const owner = owners[id];
    if (owner === undefined) throw new Error(`no job ${id}`);
    const [subject, ca] = owner.split('@');
    return { id, owner: subject, ...(ca === '' ? {} : { ownerCa: ca ?? CA }), state: 'COMPLETED' } as JobInfo;
  };
  const book = {
    resolve: (id: string) => id,
    info,
    live: new Map(),
    source: () => ({ finished: () => true, watch: () => () => {} }),
    delete: info,
    prune: (_olderThan: number, may: (job: JobInfo) => boolean) => Object.keys(owners).map(info).filter(may),
  };
  return { book, identity: { legacyCa } } as unknown as AgentState;
}

test('job-stop and job-delete: a user manages only its own jobs, an admin anyone\'s', () => {
  const agent = bookOf({ a1: 'alice' });
  for (const type of ['job-stop', 'job-delete'] as const) {
    const request = { ...SAMPLES[type], id: 'a1' };
    const cases: Array<[Role, string, boolean]> = [['user', 'alice', true], ['user', 'bob', false], ['admin', 'root', true]];
    for (const [role, subject, may] of cases) {
      const { context, wire } = contextFor(role, agent, subject);
      try {
        dispatch(request, context);
        assert.ok(may, `${type}: ${subject} (${role}) managed alice's job`);
        assert.equal(wire.sent.map((m) => m.t), ['jobs'], `${type} by ${subject}`);
      } catch (err) {
        assert.not.ok(may, `${type} by ${subject}: ${(err as Error).message}`);
        assert.is((err as HerdError).code, 'PERMISSION_DENIED');
        assert.match((err as Error).message, 'started by alice');
      }
    }
  }
});

test('a job is its starter\'s by CA and subject: the same subject from another CA may not stop or delete it', () => {
  const other = 'ca00000000000002';
  const agent = bookOf({ a1: 'alice', old: 'alice@' }, CA);
  for (const type of ['job-stop', 'job-delete'] as const) {
    const { context: impostor } = contextFor('user', agent, 'alice', other);
    const attack = (id: string) => {
      try {
        dispatch({ ...SAMPLES[type], id }, impostor);
        return 'done';
      } catch (err) {
        return (err as HerdError).code;
      }
    };
    assert.is(attack('a1'), 'PERMISSION_DENIED', `${type}: alice of another CA`);
    assert.is(attack('old'), 'PERMISSION_DENIED', `${type}: a job recorded before several CAs belongs to the CA trusted then`);
    const { context: alice, wire } = contextFor('user', agent, 'alice');
    dispatch({ ...SAMPLES[type], id: 'old' }, alice);
    assert.equal(wire.sent.map((m) => m.t), ['jobs'], `${type}: the legacy CA's alice may`);
  }
});

test('job-prune: a user prunes its own finished jobs, an admin everyone\'s', () => {
  const agent = bookOf({ a1: 'alice', b1: 'bob', a2: 'alice' });
  const pruned = (role: Role, subject: string): string[] => {
    const { context, wire } = contextFor(role, agent, subject);
    dispatch(SAMPLES['job-prune'], context);
    assert.is(wire.sent.at(-1)?.t, 'done');
    return wire.sent.flatMap((m) => (m.t === 'jobs' ? m.jobs.map((j) => j.id) : []));
  };
  assert.equal(pruned('user', 'alice'), ['a1', 'a2']);
  assert.equal(pruned('user', 'bob'), ['b1']);
  assert.equal(pruned('admin', 'root'), ['a1', 'b1', 'a2']);
});

test.run();

test('docs/identity.md has one row per request type, with these roles', () => {
  const doc = readFileSync(new URL('../../../../docs/identity.md', import.meta.url), 'utf8');
  for (const [type, roles] of Object.entries(MAY) as Array<[RequestType, readonly Role[]]>) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${type}\` |`));
    assert.ok(row !== undefined, `no row for ${type}`);
    const cells = row!.split('|').slice(3, 6).map((c) => c.trim());
    assert.equal(cells, ROLES.map((r) => (roles.includes(r) ? 'yes' : 'no')), `${type}: ${row}`);
  }
});
