import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Ajv, type ValidateFunction } from 'ajv';
import { SCHEMA_NAMES, schemaId, type SchemaName } from '../../src/client/output/jsonDocument.ts';
import { REPO } from '../../fixtures/testbed/testbed.ts';
import { gate, herd, localHome, stopAgents, type HerdRun } from './harness.ts';

/*
 * The --json contract (docs/json.md) on real output: every command that prints data, run against
 * the local machine, prints a document whose `schema` names its shape and which that shape's JSON
 * Schema (docs/schemas/) accepts; every --ndjson line too. Output that is not UTF-8 arrives as
 * base64, byte for byte.
 */
const Contract = suite('--json output as docs/json.md and docs/schemas/ say');
const enabled = gate('jsonContract.test.ts', { root: true, commands: ['unshare', 'setpriv'] });
const box = localHome('json-contract');
const state = join(box.home, 'state');
const opts = { home: box.home, env: { HERD_STATE_DIR: state } };

const ajv = new Ajv({ strict: false, allErrors: true });
const validators = new Map<SchemaName, ValidateFunction>(
  SCHEMA_NAMES.map((name) => [name, ajv.compile(JSON.parse(readFileSync(join(REPO, 'docs', 'schemas', `${name}.json`), 'utf8')) as object)]),
);
const seen = new Set<SchemaName>();

function conforms(name: SchemaName, value: unknown, what: string): void {
  const validate = validators.get(name)!;
  assert.is((value as { schema?: string }).schema, schemaId(name), `${what}: names its schema`);
  assert.ok(validate(value), `${what}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 600)}`);
  seen.add(name);
}

async function document(name: SchemaName, args: string[]): Promise<Record<string, unknown>> {
  // Before a `--`, after which everything is the job's command.
  const dash = args.indexOf('--');
  const r: HerdRun = await herd(dash < 0 ? [...args, '--json'] : [...args.slice(0, dash), '--json', ...args.slice(dash)], opts);
  assert.ok(r.code === 0 || r.code === 1, `${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  const value = r.json<Record<string, unknown>>();
  conforms(name, value, args.join(' '));
  return value;
}

Contract.after(() => {
  stopAgents(state);
  box.remove();
});

Contract('runs: --json (bytes that are not UTF-8 as base64), --ndjson events with the summary\'s counts, --detach, --dry-run', async () => {
  const run = await document('run', ['run', '--', 'sh', '-c', "printf 'ok\\n'; printf '\\377\\000A' >&2"]);
  const host = (run.hosts as Array<Record<string, unknown>>)[0]!;
  assert.is(host.stdout, 'ok\n');
  assert.is(host.stderr, null);
  assert.equal(Buffer.from(host.stderrBase64 as string, 'base64'), Buffer.from([0xff, 0x00, 0x41]), 'byte for byte');
  assert.equal(run.counts, { ok: 1, failed: 0, unreachable: 0, errors: 0 });
  const nd = await herd(['run', '--ndjson', '--', 'sh', '-c', 'echo hi; exit 3'], opts);
  const events = nd.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const e of events) conforms('run-event', e, `ndjson ${String(e.event)}`);
  assert.equal(events.map((e) => e.event), ['started', 'output', 'exit', 'summary']);
  const summary = events.at(-1)!;
  assert.equal([summary.hosts, summary.ok, summary.failed, summary.exitCode], [1, 0, 1, 3]);
  const detached = await document('run-detached', ['run', '--detach', '--', 'sleep', '30']);
  const id = ((detached.hosts as Array<{ jobId: string }>)[0]!).jobId;
  assert.match(id, /^[0-9a-f]{12}$/);
  await document('dry-run', ['run', '--dry-run', '--max-memory', '64M', '--', 'true']);

  await document('job', ['job', 'status', id]);
  await document('job-list', ['job', 'list']);
  await document('job', ['job', 'stop', id]);
  const logs = await document('job-logs', ['job', 'logs', id]);
  assert.ok(Array.isArray(logs.hosts), 'one wrapper shape: hosts');
  const copied = await document('job-cp', ['job', 'cp', `${id}:`, join(box.home, 'copied')]);
  assert.equal(((copied.hosts as Array<{ files: number }>)[0]!).files, 0, 'an empty /work');
  await document('job', ['job', 'delete', id]);
  await document('job-prune', ['job', 'prune']);
});

Contract('hosts, groups, networks, identity, audit and the persist daemon', async () => {
  await document('hosts', ['hosts']);
  await document('groups', ['hosts', '--groups']);
  await document('network-list', ['network', 'list']);
  await document('cert-show', ['cert', 'show']);
  await document('cert-issue', ['cert', 'issue', 'jay', '--role', 'viewer', '--out', join(box.home, 'jay.yml')]);
  await document('cert-list', ['cert', 'list']);
  await document('cert-revoke', ['cert', 'revoke', 'jay']);
  await document('cert-renew', ['cert', 'renew']);
  await document('host-sync', ['host', 'sync']);
  await document('host-trust', ['host', 'trust', '--list']);
  await document('host-list', ['host', 'list']);
  await document('audit', ['audit']);
  await document('audit-verify', ['audit', 'verify']);
  await document('persist-status', ['persist', 'status']);
  await document('persist-stop', ['persist', 'stop']);
  await document('ca-rotate', ['ca', 'rotate', '--grace', '0s']);
  await document('runtime-list', ['runtime', 'list']);
});

Contract('every shape of docs/json.md was seen in real output', () => {
  assert.equal(SCHEMA_NAMES.filter((n) => !seen.has(n)), [], 'shapes no test printed');
});

if (enabled) Contract.run();
