// docs/openapi.json against the route table and the running crm-api:
// every route of `crm-api --routes` is documented and nothing else is, the
// document served at /api/v1/openapi.json is the file, and every operation
// names a success answer and an error answer in the shared Error shape.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN_DIR = path.resolve(REPO, process.env.CRM_BIN_DIR || 'build/bin');
const BASE_URL = (process.env.CRM_BASE_URL || 'http://127.0.0.1:18080').replace(/\/+$/, '');
const DOC_FILE = path.join(REPO, 'docs', 'openapi.json');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const ERROR_REF = '#/components/schemas/Error';

const doc = JSON.parse(readFileSync(DOC_FILE, 'utf8'));

// "METHOD /path" of every route, as crm-api prints them.
function routes() {
  const out = execFileSync(path.join(BIN_DIR, 'crm-api'), ['--routes'], { encoding: 'utf8', cwd: REPO });
  const lines = out.split('\n').map((l) => l.trim()).filter(Boolean);
  for (const l of lines) assert.match(l, /^[A-Z]+ \/\S*$/, `crm-api --routes printed an odd line: ${l}`);
  return lines;
}

// "METHOD /path" of every operation of the document.
function operations() {
  const ops = [];
  for (const [p, item] of Object.entries(doc.paths || {}))
    for (const m of METHODS) if (item[m]) ops.push({ key: `${m.toUpperCase()} ${p}`, path: p, method: m, op: item[m] });
  return ops;
}

// Follows a local $ref ("#/components/…") to what it names.
function resolve(node) {
  let seen = 0;
  while (node && typeof node.$ref === 'string') {
    assert.ok(node.$ref.startsWith('#/'), `only local $refs: ${node.$ref}`);
    const target = node.$ref.slice(2).split('/').reduce((o, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
    assert.ok(target !== undefined, `$ref ${node.$ref} resolves`);
    node = target;
    assert.ok(++seen < 10, `$ref cycle at ${node.$ref}`);
  }
  return node;
}

function refersToError(schema) {
  if (!schema) return false;
  if (schema.$ref === ERROR_REF) return true;
  return ['oneOf', 'anyOf', 'allOf'].some((k) => Array.isArray(schema[k]) && schema[k].some(refersToError));
}

test('openapi.json is OpenAPI 3.1.0 with an Error schema and a bearerAuth scheme', () => {
  assert.equal(doc.openapi, '3.1.0');
  assert.equal(typeof doc.info?.title, 'string');
  assert.equal(typeof doc.info?.version, 'string');
  const error = doc.components?.schemas?.Error;
  assert.ok(error, 'components.schemas.Error');
  assert.deepEqual(error.required, ['error']);
  assert.deepEqual([...error.properties.error.required].sort(), ['code', 'message']);
  const bearer = doc.components?.securitySchemes?.bearerAuth;
  assert.equal(bearer?.type, 'http');
  assert.equal(bearer?.scheme, 'bearer');
});

test('every route of crm-api --routes is in openapi.json, and nothing else', () => {
  const table = routes();
  assert.ok(table.length > 0, 'crm-api --routes printed routes');
  const documented = new Set(operations().map((o) => o.key));
  const routed = new Set(table);
  assert.equal(routed.size, table.length, `the route table has duplicates: ${table}`);
  const missing = table.filter((r) => !documented.has(r));
  const extra = [...documented].filter((o) => !routed.has(o));
  assert.deepEqual(
    { missing, extra },
    { missing: [], extra: [] },
    `routes missing from docs/openapi.json: [${missing.join(', ')}]; ` +
      `operations in docs/openapi.json that are not routes: [${extra.join(', ')}]`,
  );
});

test('every operation has a 2xx answer and a 4xx/5xx answer in the Error shape', () => {
  for (const { key, op } of operations()) {
    const statuses = Object.keys(op.responses || {});
    assert.ok(statuses.some((s) => /^2\d\d$/.test(s)), `${key}: no 2xx response`);
    const errors = statuses.filter((s) => /^[45]\d\d$/.test(s));
    assert.ok(
      errors.some((s) => refersToError(resolve(op.responses[s])?.content?.['application/json']?.schema)),
      `${key}: no 4xx/5xx response with the Error schema`,
    );
    for (const s of statuses) assert.equal(typeof resolve(op.responses[s]).description, 'string', `${key} ${s}: description`);
  }
});

test('every operation has a summary, tags, security, a unique operationId and its path parameters', () => {
  const ids = new Set();
  for (const { key, path: p, op } of operations()) {
    assert.ok(op.summary, `${key}: summary`);
    assert.ok(Array.isArray(op.tags) && op.tags.length > 0, `${key}: tags`);
    assert.ok(Array.isArray(op.security), `${key}: security`);
    assert.ok(op.operationId && !ids.has(op.operationId), `${key}: unique operationId`);
    ids.add(op.operationId);
    const declared = (op.parameters || []).map(resolve).filter((x) => x.in === 'path').map((x) => x.name).sort();
    const inPath = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    assert.deepEqual(declared, inPath, `${key}: path parameters`);
    const content = op.requestBody && resolve(op.requestBody).content;
    if (['post', 'patch', 'put'].some((m) => key.startsWith(m.toUpperCase() + ' ')) && content) {
      // a JSON body is an object; an upload (CSV, multipart) declares no JSON
      if (content['application/json']) {
        assert.equal(resolve(content['application/json'].schema)?.type, 'object',
          `${key}: the request body is a JSON object`);
      } else {
        assert.ok(content['text/csv'] || content['multipart/form-data'], `${key}: a known upload type`);
      }
    }
  }
});

test('every $ref in openapi.json resolves', () => {
  const walk = (node) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node && typeof node === 'object') {
      if (typeof node.$ref === 'string') resolve(node);
      Object.values(node).forEach(walk);
    }
  };
  walk(doc);
});

test('GET /api/v1/openapi.json serves docs/openapi.json', async () => {
  const res = await fetch(`${BASE_URL}/api/v1/openapi.json`);
  const text = await res.text();
  assert.equal(res.status, 200, `status ${res.status}: ${text.slice(0, 200)}`);
  assert.match(res.headers.get('content-type') || '', /^application\/json/);
  assert.deepEqual(JSON.parse(text), doc, 'the served document equals docs/openapi.json (rebuild crm-api after editing it)');
});
