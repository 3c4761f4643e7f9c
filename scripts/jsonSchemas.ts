/*
 * The JSON Schema (draft-07) of every --json document and --ndjson event (src/client/output/
 * jsonDocument.ts names them), written to docs/schemas/NAME.json by `node --import tsx
 * scripts/jsonSchemas.ts`. The unit tests check the files are what this says; the integration
 * tests check real output against them. Fields may be added within a version: objects allow
 * more properties than they list.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../src/protocol/errors.ts';
import { SCHEMA_NAMES, schemaId, type SchemaName } from '../src/client/output/jsonDocument.ts';

type Schema = Record<string, unknown>;

const str: Schema = { type: 'string' };
const strOrNull: Schema = { type: ['string', 'null'] };
const int: Schema = { type: 'integer' };
const intOrNull: Schema = { type: ['integer', 'null'] };
const bool: Schema = { type: 'boolean' };
const time: Schema = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T' };
const timeOrNull: Schema = { type: ['string', 'null'], pattern: '^\\d{4}-\\d{2}-\\d{2}T' };
const list = (items: Schema): Schema => ({ type: 'array', items });
const obj = (properties: Record<string, Schema>, required: string[] = Object.keys(properties)): Schema => ({ type: 'object', required, properties });
const nullable = (s: Schema): Schema => ({ anyOf: [{ type: 'null' }, s] });

const error: Schema = nullable(obj({ code: { enum: [...ERROR_CODES] }, message: str, host: str, hint: str }, ['code', 'message']));
const usage: Schema = obj({ cpuMs: int, peakMemoryBytes: int, readBytes: int, writeBytes: int }, []);
const result: Schema = obj({
  jobId: str, exitCode: intOrNull, signal: strOrNull, oomKilled: bool, timedOut: bool, stopped: bool, startedAt: time, endedAt: time, durationMs: { type: 'number' },
  phases: { type: 'object', additionalProperties: { type: 'number' } }, usage,
}, ['jobId', 'exitCode', 'signal', 'oomKilled', 'timedOut', 'stopped', 'startedAt', 'endedAt', 'durationMs']);
const JOB_STATES = ['SCHEDULED', 'RUNNING', 'COMPLETED', 'FAILED', 'STOPPED', 'LOST'];
const job: Schema = obj({
  id: str, argv: list(str), state: { enum: JOB_STATES }, reason: strOrNull, owner: str, ownerCa: str, hostname: str, network: str, isolation: { enum: ['none'] },
  ip: strOrNull, createdAt: time, scheduledFor: timeOrNull, startedAt: timeOrNull, endedAt: timeOrNull, durationMs: { type: ['number', 'null'] },
  exitCode: intOrNull, signal: strOrNull, oomKilled: bool, timedOut: bool, timeoutMs: intOrNull, usage,
  log: obj({ bytes: int, maxBytes: int, dropped: bool }),
  seccomp: obj({ loaded: bool, problem: str }, ['loaded']),
  devices: obj({ enforced: bool, how: str, problem: str }, ['enforced']),
}, ['id', 'argv', 'state', 'reason', 'owner', 'hostname', 'network', 'ip', 'createdAt', 'scheduledFor', 'startedAt', 'endedAt', 'durationMs', 'exitCode', 'signal', 'oomKilled', 'timedOut', 'timeoutMs', 'log']);
/** Output bytes: text when UTF-8, else null and the base64 beside it. */
const bytes = (key: string): Record<string, Schema> => ({ [key]: strOrNull, [`${key}Base64`]: str });
const target: Schema = {
  anyOf: [
    obj({ kind: { const: 'local' }, name: str }),
    obj({ kind: { const: 'ssh' }, name: str, address: str, port: int, user: str, alias: str, ssh: { type: 'object' } }, ['kind', 'name', 'address', 'port', 'user']),
  ],
};
const listedCert: Schema = obj({ serial: str, subject: str, role: str, ca: str, issued: time, notAfter: timeOrNull, status: str, why: strOrNull, dialled: strOrNull });
const auditLine: Schema = obj({
  seq: int, prev: { type: 'string', pattern: '^[0-9a-f]{64}$' }, time, host: str, hostId: str, action: str, outcome: { enum: ['ok', 'refused', 'failed'] },
  code: str, message: str, subject: strOrNull, serial: strOrNull, role: strOrNull, ca: strOrNull, login: strOrNull, from: strOrNull, target: str, detail: { type: 'object' },
}, ['seq', 'prev', 'time', 'host', 'hostId', 'action', 'outcome', 'subject', 'serial', 'role', 'ca', 'login', 'from']);
const counts: Schema = obj({ ok: int, failed: int, unreachable: int, errors: int });
const perHost = (item: Record<string, Schema>, required: string[] = Object.keys(item)): Schema => ({ type: 'array', items: obj({ host: str, ...item, error }, ['host', ...required, 'error']) });

const BODIES: Record<SchemaName, { title: string; properties: Record<string, Schema>; required?: string[] }> = {
  run: {
    title: 'herd run --json: each host\'s result and output, at the end',
    properties: {
      exitCode: int,
      counts,
      hosts: perHost({ exitCode: int, jobId: strOrNull, result: nullable(result), shippedHelper: bool, connection: nullable({ type: 'object' }), upload: nullable(obj({ files: int, bytes: int, sentBytes: int }, ['files', 'bytes', 'sentBytes'])), download: nullable(obj({ files: int, bytes: int, into: str }, ['files', 'bytes', 'into'])), ...bytes('stdout'), ...bytes('stderr') }, ['exitCode', 'jobId', 'result', 'stdout', 'stderr']),
    },
  },
  'run-event': {
    title: 'herd run --ndjson: one event per line (started, output, exit, error, summary)',
    properties: {
      time,
      event: { enum: ['started', 'output', 'exit', 'error', 'summary'] },
      host: str, jobId: str, stream: { enum: ['stdout', 'stderr'] }, data: str, base64: str, exitCode: int, result, error,
      hosts: int, ok: int, failed: int, unreachable: int, errors: int, line: str,
    },
    required: ['time', 'event'],
  },
  'run-detached': { title: 'herd run --detach --json (and --schedule): the job each host started', properties: { hosts: perHost({ jobId: strOrNull, job: nullable(job) }) } },
  'dry-run': {
    title: 'herd run --dry-run --json: the job each host would get, and how each is reached; nothing ran',
    properties: { dryRun: { const: true }, job: obj({ argv: list(str), envNames: list(str) }), transport: str, parallel: int, hosts: list(target), flags: { type: 'object', additionalProperties: str } },
  },
  hosts: { title: 'herd hosts --json: the hosts -H resolves to, and how each is reached', properties: { hosts: list(target) } },
  groups: { title: 'herd hosts --groups --json: the groups of the config and the inventory', properties: { groups: list(obj({ name: str, source: { enum: ['config', 'inventory'] }, hosts: list(str) })) } },
  job: { title: 'herd job status|wait|stop|delete --json: one job per host', properties: { hosts: perHost({ job: nullable(job) }) } },
  'job-list': { title: 'herd job list --json: each host\'s jobs', properties: { hosts: perHost({ jobs: nullable(list(job)) }) } },
  'job-cp': { title: 'herd job cp --json: what each host\'s job gave', properties: { hosts: perHost({ into: str, files: int, bytes: int, skipped: list(str) }, ['into']) } },
  'job-logs': { title: 'herd job logs --json: a job\'s recorded output', properties: { hosts: perHost({ job: nullable(job), ...bytes('stdout'), ...bytes('stderr'), notes: list(str) }, ['job', 'stdout', 'stderr', 'notes']) } },
  'job-prune': { title: 'herd job prune --json: what each host removed', properties: { hosts: perHost({ pruned: { type: ['array', 'integer', 'null'] } }) } },
  'network-list': { title: 'herd network list --json: each host\'s networks', properties: { hosts: perHost({ networks: nullable(list(obj({ name: str, cidr: str, gateway: str, range: obj({ start: str, end: str }), dns: list(str), bridge: str, isolated: bool, builtin: bool, jobs: int }))) }) } },
  audit: { title: 'herd audit --json: each host\'s audit lines', properties: { hosts: perHost({ hostId: strOrNull, lines: nullable(list(auditLine)) }) } },
  'audit-verify': {
    title: 'herd audit verify --json: what each host\'s log verified to',
    properties: { hosts: { type: 'array', items: obj({ host: str, ok: bool, lines: int, firstSeq: intOrNull, head: nullable(obj({ seq: int, hash: str })), problems: list(obj({ file: str, line: int, what: str })), hostId: str, files: list(obj({ name: str, bytes: int })), anchored: bool, stoppedEarly: bool, error }, ['host', 'error']) } },
  },
  'host-sync': { title: 'herd host sync --json: the revocation list version pushed, per host', properties: { version: int, hosts: perHost({ synced: bool }) } },
  'host-trust': { title: 'herd host trust [--list|--remove] --json: the CAs each host trusts', properties: { ca: str, hosts: perHost({ did: strOrNull, cas: nullable(list(obj({ ca: str, since: str, hostCert: nullable(obj({ subject: str, serial: str, notAfter: str })), revocations: int, yours: bool }))) }) } },
  'host-list': { title: 'herd host list --json: the hosts this CA enrolled, from its record', properties: { record: str, hosts: list(listedCert) } },
  'cert-issue': { title: 'herd cert issue --json: the certificate and key made', properties: { subject: str, role: str, serial: str, cert: str, key: str, caPublicKey: str, out: strOrNull, replaced: list(str) } },
  'cert-renew': { title: 'herd cert renew --json', properties: { subject: str, role: str, serial: str, previousSerial: str, notAfter: time, config: str } },
  'cert-revoke': { title: 'herd cert revoke --json: what was revoked and the list\'s new version', properties: { revoked: { type: 'object' }, version: int, config: str }, required: ['revoked', 'config'] },
  'cert-show': { title: 'herd cert show --json: this config\'s certificate', properties: { subject: str, role: str, serial: str, notBefore: time, notAfter: time, ca: str, holdsCa: bool, config: str } },
  'cert-list': { title: 'herd cert list --json: the certificates this CA issued', properties: { record: str, certs: list(listedCert) } },
  'ca-rotate': {
    title: 'herd ca rotate --json',
    properties: { from: str, to: str, switched: bool, config: str, oldIdentity: strOrNull, hosts: perHost({ added: strOrNull, old: strOrNull }), oldCertificates: list(obj({ serial: str, subject: str, role: str })) },
  },
  'persist-status': { title: 'herd persist status --json', properties: { running: bool, pid: intOrNull, socket: str, log: str } },
  'persist-stop': { title: 'herd persist stop --json', properties: { stopped: intOrNull } },
  'runtime-list': { title: 'herd runtime list --json: the Bun runtimes in the cache', properties: { runtimes: list(obj({ target: str, version: str, cached: bool, sha256: strOrNull, gzBytes: intOrNull })) } },
};

export function jsonSchemaOf(name: SchemaName): Schema {
  const body = BODIES[name];
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `https://herd.dev/schemas/${name}.json`,
    title: body.title,
    type: 'object',
    required: ['schema', ...(body.required ?? Object.keys(body.properties))],
    properties: { schema: { const: schemaId(name) }, ...body.properties },
  };
}

export function schemaFile(name: SchemaName): string {
  return `${JSON.stringify(jsonSchemaOf(name), null, 2)}\n`;
}

if (process.argv[1]?.endsWith('jsonSchemas.ts')) {
  for (const name of SCHEMA_NAMES) writeFileSync(join(import.meta.dirname ?? '.', '..', 'docs', 'schemas', `${name}.json`), schemaFile(name));
  console.log(`wrote ${SCHEMA_NAMES.length} schemas to docs/schemas/`);
}
