// Shared helpers of the black-box API tests (node --test, no dependencies):
// HTTP calls, tenants and members, tokens (real and forged), SQL as crm_api,
// and the assertions every file repeats (error shape, token shape, bad bodies).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const BASE_URL = (process.env.CRM_BASE_URL || 'http://127.0.0.1:18080').replace(/\/+$/, '');
export const VAR_DIR = process.env.CRM_VAR || path.join(REPO, 'var', 'test');
export const PASSWORD = 'correct-horse-42';
export const USER_AGENT = 'crm-api-tests/1';
export const MiB = 1024 * 1024;

/* ---------- HTTP ---------- */

// One HTTP call. `body` is sent as JSON; `raw` (string or Buffer) is sent as is.
// A body gets Content-Type application/json unless `headers` names another
// (`'content-type': null` sends none).
// Answers {status, headers, json, text}; json is undefined when the body is not JSON.
export async function api(method, urlPath, { body, token, headers = {}, raw } = {}) {
  const h = { 'user-agent': USER_AGENT };
  if (token) h.authorization = `Bearer ${token}`;
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
  let payload;
  if (raw !== undefined) payload = raw;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined && !('content-type' in h)) h['content-type'] = 'application/json';
  if (h['content-type'] === null) delete h['content-type'];
  if (typeof payload === 'string') payload = Buffer.from(payload); // fetch adds text/plain to strings
  const res = await fetch(BASE_URL + urlPath, { method, headers: h, body: payload, redirect: 'manual' });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

function show(res) {
  return `${res.status} ${res.text.slice(0, 400)}`;
}

// Asserts the status and returns the parsed JSON answer.
export function expectStatus(res, status) {
  assert.equal(res.status, status, `expected ${status}, got ${show(res)}`);
  return res.json;
}

// Asserts the error shape {"error":{"code","message","fields"?}} with X-Request-Id.
// `fields` maps a field to its expected reason, or to an array of acceptable reasons.
export function assertError(res, status, code, fields) {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${show(res)}`);
  assert.match(res.headers.get('content-type') || '', /^application\/json/, 'error answers are JSON');
  assert.ok(res.json && typeof res.json.error === 'object', `error shape: ${res.text.slice(0, 200)}`);
  assert.equal(res.json.error.code, code, `error code of ${show(res)}`);
  assert.equal(typeof res.json.error.message, 'string');
  assert.ok(res.json.error.message.length > 0, 'error message is not empty');
  assert.ok(res.headers.get('x-request-id'), 'X-Request-Id on an error');
  for (const [name, reason] of Object.entries(fields || {})) {
    const got = res.json.error.fields?.[name];
    if (Array.isArray(reason)) assert.ok(reason.includes(got), `fields.${name}: ${got} not in ${reason}`);
    else assert.equal(got, reason, `fields.${name} of ${show(res)}`);
  }
}

// Asserts that `obj` has every key of `keys` (answers may carry more: API.md lets
// the contract grow) and that the listed keys have the expected values.
export function assertFields(obj, expected, what = 'object') {
  assert.ok(obj && typeof obj === 'object', `${what} is an object`);
  for (const [key, value] of Object.entries(expected)) {
    assert.ok(key in obj, `${what} has ${key}: ${JSON.stringify(obj).slice(0, 300)}`);
    assert.deepEqual(obj[key], value, `${what}.${key}`);
  }
}

export function assertKeys(obj, keys, what = 'object') {
  assert.ok(obj && typeof obj === 'object', `${what} is an object`);
  const missing = keys.filter((k) => !(k in obj));
  assert.deepEqual(missing, [], `keys missing from ${what}: ${JSON.stringify(obj).slice(0, 300)}`);
}

export function assertTime(value, what = 'time') {
  assert.equal(typeof value, 'string', `${what} is a string`);
  assert.match(value, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]00:?00)$/, `${what} is RFC 3339 UTC: ${value}`);
}

// The token answer of signup, login, refresh and invitation accept.
export function assertTokenShape(json, { slug, email, role } = {}) {
  assert.ok(json, 'a JSON answer');
  assert.equal(typeof json.tenant?.id, 'number');
  assert.equal(typeof json.tenant.slug, 'string');
  assert.equal(typeof json.tenant.name, 'string');
  assert.equal(typeof json.user?.id, 'number');
  assert.equal(typeof json.user.email, 'string');
  assert.equal(typeof json.user.name, 'string');
  assert.equal(typeof json.role, 'string');
  assert.match(json.access_token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'access token is a JWT');
  assert.equal(typeof json.refresh_token, 'string');
  assert.ok(json.refresh_token.length >= 16, 'refresh token is long enough');
  assert.equal(json.token_type, 'Bearer');
  assert.equal(json.expires_in, 900);
  if (slug !== undefined) assert.equal(json.tenant.slug, slug);
  if (email !== undefined) assert.equal(json.user.email, email);
  if (role !== undefined) assert.equal(json.role, role);
}

/* ---------- tenants, users, members ---------- */

export function unique() {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export function uniqueEmail(prefix = 'user') {
  return `${prefix}-${unique()}@example.com`;
}

// The sign-up body of a fresh company (unique slug and e-mail, Chinese names).
export function signupBody(overrides = {}) {
  const n = unique();
  return {
    company: `华为技术有限公司 ${n}`,
    slug: `t-${n}`,
    name: `张伟 ${n}`,
    email: `owner-${n}@example.com`,
    password: PASSWORD,
    ...overrides,
  };
}

// Signs up a new company; answers the token answer plus the `password` used.
export async function signup(overrides = {}) {
  const body = signupBody(overrides);
  const res = await api('POST', '/api/v1/auth/signup', { body });
  if (res.status === 429) {
    throw new Error('sign-up refused with 429: the test stack must raise CRM_SIGNUPS_PER_IP');
  }
  expectStatus(res, 201);
  return { ...res.json, password: body.password };
}

export function login(email, password, tenant) {
  const body = { email, password };
  if (tenant !== undefined) body.tenant = tenant;
  return api('POST', '/api/v1/auth/login', { body });
}

// Logs in (a new session) and answers the token answer.
export async function loginOk(email, password, tenant) {
  return expectStatus(await login(email, password, tenant), 200);
}

export function refresh(refreshToken) {
  return api('POST', '/api/v1/auth/refresh', { body: { refresh_token: refreshToken } });
}

export function me(token) {
  return api('GET', '/api/v1/me', { token });
}

export function invite(token, body) {
  return api('POST', '/api/v1/members/invite', { token, body });
}

export function patchMember(token, id, body) {
  return api('PATCH', `/api/v1/members/${id}`, { token, body });
}

export async function listMembers(token) {
  return expectStatus(await api('GET', '/api/v1/members', { token }), 200).data;
}

// Invites a member with `owner`'s token and accepts the invitation.
// Answers the accept token answer plus {member, email, password}.
export async function addMember(ownerToken, { role = 'sales', name = '李娜', email = uniqueEmail('member') } = {}) {
  const invited = expectStatus(await invite(ownerToken, { email, name, role }), 201);
  const accepted = await api('POST', '/api/v1/invitations/accept', {
    body: { token: invited.invite_token, password: PASSWORD },
  });
  return { ...expectStatus(accepted, 200), member: invited.member, email, password: PASSWORD };
}

/* ---------- operators ---------- */

export const OPERATOR_EMAIL = 'operator@crm.local';

export function secret(name) {
  return readFileSync(path.join(VAR_DIR, 'secrets', name), 'utf8').trim();
}

export function operatorLogin(email = OPERATOR_EMAIL, password = secret('operator.pw')) {
  return api('POST', '/api/v1/platform/auth/login', { body: { email, password } });
}

let operatorTokenPromise;
// The access token of operator@crm.local (one login per test process).
export function operatorToken() {
  operatorTokenPromise ??= operatorLogin().then((res) => expectStatus(res, 200).access_token);
  return operatorTokenPromise;
}

/* ---------- JWT ---------- */

export function jwtKey() {
  return secret('jwt.key');
}

// Signs `claims` as an HS256 JWT (with the stack's key unless `key` is given).
// alg "none" yields an unsigned token.
export function signJwt(claims, { key = jwtKey(), alg = 'HS256' } = {}) {
  const part = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const signed = `${part({ alg, typ: 'JWT' })}.${part(claims)}`;
  const sig = alg === 'none' ? '' : createHmac('sha256', key).update(signed).digest('base64url');
  return `${signed}.${sig}`;
}

export function decodeJwt(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

export function now() {
  return Math.floor(Date.now() / 1000);
}

/* ---------- PostgreSQL ---------- */

// Runs `sql` with psql as role crm_api; never throws: answers {code, stdout, stderr}.
export function psql(sql) {
  const args = [
    '-h', process.env.CRM_PG_HOST || path.join(VAR_DIR, 'run'),
    '-p', process.env.CRM_PG_PORT || '15432',
    '-U', 'crm_api', '-d', 'crm',
    '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-c', sql,
  ];
  const env = { ...process.env, PGPASSWORD: secret('pg_api.pw'), PGCONNECT_TIMEOUT: '5' };
  return new Promise((resolve) => {
    execFile('psql', args, { env, timeout: 15000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/* ---------- bad request bodies ---------- */

// JSON nested `depth` deep inside an otherwise plausible object.
export function deepJson(depth, base = {}) {
  const inner = '['.repeat(depth - 1) + ']'.repeat(depth - 1);
  return JSON.stringify(base).replace(/}$/, `${Object.keys(base).length ? ',' : ''}"deep":${inner}}`);
}

// Registers one test per bad body for a route that takes a JSON object.
// `path` and `token` may be functions (resolved when the test runs, after `before`);
// `body` is a plausible body of the route, used where the body itself must be valid JSON.
export function testBadBodies(label, { method = 'POST', path: routePath, token, body = {} }) {
  const resolve = async (v) => (typeof v === 'function' ? v() : v);
  const send = async (opts) => api(method, await resolve(routePath), { token: await resolve(token), ...opts });
  const cases = [
    ['malformed JSON', { raw: '{"email": "a@b.c",' }, 400, 'invalid_json'],
    ['a JSON array', { raw: JSON.stringify([body]) }, 400, 'invalid_json'],
    ['a JSON number', { raw: '42' }, 400, 'invalid_json'],
    ['a JSON string', { raw: '"hello"' }, 400, 'invalid_json'],
    ['null', { raw: 'null' }, 400, 'invalid_json'],
    ['an empty body', { raw: '' }, 400, 'invalid_json'],
    ['JSON nested 100 deep', { raw: deepJson(100, body) }, 400, 'invalid_json'],
    ['a body over 1 MiB', { raw: JSON.stringify({ ...body, pad: 'x'.repeat(MiB) }) }, 413, 'payload_too_large'],
    ['Content-Type text/plain', { raw: JSON.stringify(body), headers: { 'content-type': 'text/plain' } }, 415, 'unsupported_media_type'],
    ['no Content-Type', { raw: JSON.stringify(body), headers: { 'content-type': null } }, 415, 'unsupported_media_type'],
  ];
  for (const [what, opts, status, code] of cases) {
    test(`${label}: ${what} → ${status} ${code}`, async () => {
      assertError(await send(opts), status, code);
    });
  }
  test(`${label}: Content-Type with a charset parameter is accepted`, async () => {
    const res = await send({ raw: JSON.stringify(body), headers: { 'content-type': 'application/json; charset=utf-8' } });
    assert.ok(![400, 413, 415].includes(res.status), `got ${show(res)}`);
  });
}

/* ---------- crmctl ---------- */

const CRMCTL = path.resolve(REPO, process.env.CRM_BIN_DIR || 'build/bin', 'crmctl');

// Runs crmctl with the stack's environment; answers {code, stdout, stderr}.
export function crmctl(...args) {
  return new Promise((resolve) => {
    execFile(CRMCTL, args, { env: process.env, timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ code: err ? 1 : 0, stdout, stderr });
    });
  });
}

/* ---------- records ---------- */

// POSTs a record of `object` and answers it (asserting 201).
export async function createRecord(token, object, body) {
  return expectStatus(await api('POST', `/api/v1/${object}`, { token, body }), 201);
}

// Runs SQL that must succeed (psql as crm_api); answers the rows, each an array of columns.
export async function sql(text) {
  const res = await psql(text);
  if (res.code !== 0) throw new Error(`psql failed: ${res.stderr}`);
  return res.stdout.split('\n').filter(Boolean).map((line) => line.split('|'));
}

const sqlText = (v) => `'${String(v).replaceAll("'", "''")}'`;
const sqlJson = (v) => (v === null || v === undefined ? 'NULL' : `${sqlText(JSON.stringify(v))}::jsonb`);

// Defines custom fields of `object` in a tenant directly in SQL (until /api/v1/fields
// exists), one definition or an array of them; a unique one gets the index the engine
// expects (`<object>_cf_<key>`).
export async function addCustomField(tenantId, object, defs) {
  const s = `t_${Number(tenantId)}`;
  const one = ({ key, type, label = key, required = false, unique = false, options, default: def, rules = {} }) => `
    INSERT INTO ${s}.fields (object, key, label, type, required, is_unique, options, default_value, rules)
    VALUES (${sqlText(object)}, ${sqlText(key)}, ${sqlText(label)}, ${sqlText(type)}, ${!!required}, ${!!unique},
      ${sqlJson(options)}, ${sqlJson(def)}, ${sqlJson(rules)});
    ${unique ? `CREATE UNIQUE INDEX "${object}_cf_${key}" ON ${s}.${object} ((custom->>${sqlText(key)})) WHERE deleted_at IS NULL;` : ''}`;
  await sql([].concat(defs).map(one).join('\n'));
}

// Field-level security of a role on `object` in SQL: `fields` maps a field key to
// 'hidden' or 'read_only'.
export async function setFieldAccess(tenantId, role, object, fields) {
  await sql(Object.entries(fields).map(([field, access]) => `INSERT INTO t_${Number(tenantId)}.field_rules (role, object, field, access)
    VALUES (${sqlText(role)}, ${sqlText(object)}, ${sqlText(field)}, ${sqlText(access)});`).join('\n'));
}
