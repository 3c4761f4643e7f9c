/**
 * Every document herd prints with --json, and every --ndjson event, names its shape and version
 * in `schema` ("herd.job-list/1"): docs/json.md describes each, and docs/schemas/NAME.json is its
 * JSON Schema, checked against real output in the tests. A new field keeps the version; a field
 * removed, renamed or changed in meaning makes the next one.
 */
export const SCHEMA_NAMES = [
  'run', 'run-event', 'run-detached', 'dry-run', 'hosts', 'groups', 'job', 'job-list', 'job-cp', 'job-logs', 'job-prune', 'network-list',
  'audit', 'audit-verify', 'host-sync', 'host-trust', 'host-list', 'cert-issue', 'cert-renew', 'cert-revoke', 'cert-show', 'cert-list',
  'ca-rotate', 'persist-status', 'persist-stop', 'runtime-list',
] as const;
export type SchemaName = (typeof SCHEMA_NAMES)[number];

export const SCHEMA_VERSION = 1;

export function schemaId(name: SchemaName): string {
  return `herd.${name}/${SCHEMA_VERSION}`;
}

/** A --json document: its schema first, then the body, indented. */
export function jsonDocument(name: SchemaName, body: Record<string, unknown>): string {
  return `${JSON.stringify({ schema: schemaId(name), ...body }, null, 2)}\n`;
}

/**
 * Output bytes in a JSON document, exactly: `{stdout: "text"}` when they are UTF-8, else
 * `{stdout: null, stdoutBase64: "…"}` (JSON strings cannot hold other bytes without changing them).
 */
export function bytesFields(key: 'stdout' | 'stderr', bytes: Uint8Array): Record<string, string | null> {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = buffer.toString('utf8');
  return Buffer.byteLength(text) === buffer.length && Buffer.from(text, 'utf8').equals(buffer) ? { [key]: text } : { [key]: null, [`${key}Base64`]: buffer.toString('base64') };
}
