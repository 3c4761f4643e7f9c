import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { bytesFields, jsonDocument, SCHEMA_NAMES, schemaId } from '../../../../src/client/output/jsonDocument.ts';
import { schemaFile } from '../../../../scripts/jsonSchemas.ts';

const ROOT = join(import.meta.dirname ?? '.', '..', '..', '..', '..');

test('every shape has its schema file, as scripts/jsonSchemas.ts writes it, and a section in docs/json.md', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'json.md'), 'utf8');
  const ajv = new Ajv({ strict: false });
  for (const name of SCHEMA_NAMES) {
    const file = readFileSync(join(ROOT, 'docs', 'schemas', `${name}.json`), 'utf8');
    assert.is(file, schemaFile(name), `docs/schemas/${name}.json is stale: run node --import tsx scripts/jsonSchemas.ts`);
    assert.ok(ajv.compile(JSON.parse(file) as object), name);
    assert.ok(doc.includes(`\`${schemaId(name)}\``), `docs/json.md describes ${schemaId(name)}`);
  }
});

test('a document names its schema first; output bytes are text when UTF-8 and base64 otherwise', () => {
  assert.ok(jsonDocument('hosts', { hosts: [] }).startsWith('{\n  "schema": "herd.hosts/1",'));
  assert.equal(bytesFields('stdout', Buffer.from('héllo\n')), { stdout: 'héllo\n' });
  assert.equal(bytesFields('stderr', Uint8Array.of(0xff, 0x00, 0x41)), { stderr: null, stderrBase64: '/wBB' });
});

test.run();
