// Platform operators: login/logout, tenant list and detail, suspend/resume
// (the tenant's calls get 403), delete with confirm (export, tokens dead, slug free).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  addMember, api, assertError, assertFields, assertKeys, assertTime, decodeJwt, expectStatus, login, loginOk, me, now, operatorLogin,
  operatorToken, psql, refresh, signJwt, signup, testBadBodies, uniqueEmail, OPERATOR_EMAIL, VAR_DIR,
} from './lib.mjs';

let op; // operator access token
let tenant; // a tenant to list, get, suspend and resume
let doomed; // a tenant (with a second member) to delete
let doomedMember;

const TENANT_KEYS = ['created_at', 'id', 'member_count', 'name', 'schema_version', 'slug', 'status'];
const platform = (method, p, token = op) => api(method, `/api/v1/platform${p}`, { token });
const findTenant = async (slug) => expectStatus(await platform('GET', `/tenants?q=${encodeURIComponent(slug)}`), 200).data;

before(async () => {
  [op, tenant, doomed] = await Promise.all([operatorToken(), signup(), signup({ company: `即将删除的公司 ${Date.now()}` })]);
  doomedMember = await addMember(doomed.access_token, { role: 'sales', name: '待删成员' });
});

test('operator login answers 200 with the operator and a platform token', async () => {
  const json = expectStatus(await operatorLogin(), 200);
  assert.equal(json.operator.email, OPERATOR_EMAIL);
  assert.equal(typeof json.operator.id, 'number');
  assert.equal(typeof json.operator.name, 'string');
  assert.equal(json.token_type, 'Bearer');
  assert.equal(json.expires_in, 900);
  const claims = decodeJwt(json.access_token);
  assert.equal(claims.aud, 'crm-platform');
  assert.equal(claims.exp - claims.iat, 900);
});

test('operator login with a wrong password or unknown e-mail answers 401 invalid_credentials', async () => {
  assertError(await operatorLogin(OPERATOR_EMAIL, 'wrong-password'), 401, 'invalid_credentials');
  assertError(await operatorLogin(uniqueEmail('nobody'), 'wrong-password'), 401, 'invalid_credentials');
});

test('operator login validates its fields', async () => {
  const post = (body) => api('POST', '/api/v1/platform/auth/login', { body });
  assertError(await post({}), 422, 'validation_failed', { email: 'required', password: 'required' });
  assertError(await post({ email: 42, password: 'x' }), 422, 'validation_failed', { email: 'invalid_type' });
});

test('a tenant user cannot log in as an operator', async () => {
  assertError(await operatorLogin(tenant.user.email, tenant.password), 401, 'invalid_credentials');
});

test('platform calls answer 401 without a token and with a tenant token', async () => {
  for (const token of [null, tenant.access_token]) { // null: no Authorization header
    assertError(await platform('GET', '/tenants', token), 401, 'unauthorized');
    assertError(await platform('GET', `/tenants/${tenant.tenant.id}`, token), 401, 'unauthorized');
    assertError(await platform('POST', `/tenants/${tenant.tenant.id}/suspend`, token), 401, 'unauthorized');
    assertError(await platform('DELETE', `/tenants/${tenant.tenant.id}?confirm=${tenant.tenant.slug}`, token), 401, 'unauthorized');
  }
  expectStatus(await me(tenant.access_token), 200); // nothing happened to it
});

test('a tenant token forged for the platform audience answers 401', async () => {
  const forged = signJwt({ ...decodeJwt(tenant.access_token), aud: 'crm-platform' });
  assertError(await platform('GET', '/tenants', forged), 401, 'unauthorized');
});

test('an expired operator token answers 401 token_expired', async () => {
  const expired = signJwt({ ...decodeJwt(op), iat: now() - 2000, exp: now() - 1100 });
  assertError(await platform('GET', '/tenants', expired), 401, 'token_expired');
});

test('the tenant list finds a new tenant by its slug', async () => {
  const data = await findTenant(tenant.tenant.slug);
  assert.equal(data.length, 1);
  const [t] = data;
  assertKeys(t, TENANT_KEYS, 'tenant');
  assert.equal(t.id, tenant.tenant.id);
  assert.equal(t.slug, tenant.tenant.slug);
  assert.equal(t.name, tenant.tenant.name);
  assert.equal(t.status, 'active');
  assert.equal(t.member_count, 1);
  assert.equal(typeof t.schema_version, 'number');
  assertTime(t.created_at);
});

test('the tenant list pages with limit and cursor', async () => {
  const first = expectStatus(await platform('GET', '/tenants?limit=1'), 200);
  assert.equal(first.data.length, 1);
  assert.equal(typeof first.next_cursor, 'string', 'at least two tenants exist, so there is a next page');
  const second = expectStatus(await platform('GET', `/tenants?limit=1&cursor=${encodeURIComponent(first.next_cursor)}`), 200);
  assert.equal(second.data.length, 1);
  assert.notEqual(second.data[0].id, first.data[0].id);
});

test('one tenant answers with its owner', async () => {
  const t = expectStatus(await platform('GET', `/tenants/${tenant.tenant.id}`), 200);
  assert.equal(t.id, tenant.tenant.id);
  assert.equal(t.slug, tenant.tenant.slug);
  assert.equal(t.name, tenant.tenant.name);
  assertFields(t.owner, { email: tenant.user.email, name: tenant.user.name }, 'owner');
  assertKeys(t, TENANT_KEYS, 'tenant');
});

test('an unknown tenant answers 404', async () => {
  assertError(await platform('GET', '/tenants/999999999'), 404, 'not_found');
  assertError(await platform('POST', '/tenants/999999999/suspend'), 404, 'not_found');
  assertError(await platform('POST', '/tenants/999999999/resume'), 404, 'not_found');
  assertError(await platform('DELETE', '/tenants/999999999?confirm=nothing'), 404, 'not_found');
});

test('suspend: the tenant\'s tokens and logins get 403 tenant_suspended; resume restores them', async () => {
  const id = tenant.tenant.id;
  const suspended = expectStatus(await platform('POST', `/tenants/${id}/suspend`), 200);
  assert.equal(suspended.id, id);
  assert.equal(suspended.status, 'suspended');
  try {
    assertError(await me(tenant.access_token), 403, 'tenant_suspended');
    assertError(await api('GET', '/api/v1/members', { token: tenant.access_token }), 403, 'tenant_suspended');
    assertError(await login(tenant.user.email, tenant.password), 403, 'tenant_suspended');
    assert.equal((await findTenant(tenant.tenant.slug))[0].status, 'suspended');
    const listed = expectStatus(await platform('GET', `/tenants?status=suspended&q=${tenant.tenant.slug}`), 200).data;
    assert.deepEqual(listed.map((t) => t.id), [id]);
    const active = expectStatus(await platform('GET', `/tenants?status=active&q=${tenant.tenant.slug}`), 200).data;
    assert.deepEqual(active, []);
  } finally {
    const resumed = expectStatus(await platform('POST', `/tenants/${id}/resume`), 200);
    assert.equal(resumed.status, 'active');
  }
  expectStatus(await me(tenant.access_token), 200);
  expectStatus(await login(tenant.user.email, tenant.password), 200);
});

test('a logout refused on a suspended tenant ends nothing', async () => {
  const session = await loginOk(tenant.user.email, tenant.password);
  expectStatus(await platform('POST', `/tenants/${tenant.tenant.id}/suspend`), 200);
  let res;
  try {
    res = await api('POST', '/api/v1/auth/logout', { token: session.access_token });
  } finally {
    expectStatus(await platform('POST', `/tenants/${tenant.tenant.id}/resume`), 200);
  }
  if (res.status === 204) {
    assertError(await me(session.access_token), 401, 'unauthorized'); // logged out, as answered
  } else {
    assertError(res, 403, 'tenant_suspended');
    expectStatus(await me(session.access_token), 200); // refused, so the session must live on
  }
});

test('a suspended tenant refuses refresh and password change, and keeps the session for its resume', async () => {
  const session = await loginOk(tenant.user.email, tenant.password);
  expectStatus(await platform('POST', `/tenants/${tenant.tenant.id}/suspend`), 200);
  let refreshed;
  let password;
  try {
    refreshed = await refresh(session.refresh_token);
    password = await api('POST', '/api/v1/auth/password', {
      token: session.access_token,
      body: { current_password: tenant.password, new_password: 'another-password-1' },
    });
  } finally {
    expectStatus(await platform('POST', `/tenants/${tenant.tenant.id}/resume`), 200);
  }
  assertError(refreshed, 403, 'tenant_suspended');
  assertError(password, 403, 'tenant_suspended');
  // Nothing changed: the same refresh token still works, the password is the old one.
  const after = expectStatus(await refresh(session.refresh_token), 200);
  expectStatus(await me(after.access_token), 200);
  expectStatus(await login(tenant.user.email, tenant.password), 200);
});

test('delete without or with a wrong confirm answers 422 and deletes nothing', async () => {
  const id = tenant.tenant.id;
  assertError(await platform('DELETE', `/tenants/${id}`), 422, 'validation_failed', { confirm: ['required', 'invalid_value', 'incorrect'] });
  assertError(await platform('DELETE', `/tenants/${id}?confirm=wrong-slug`), 422, 'validation_failed', { confirm: ['invalid_value', 'incorrect'] });
  expectStatus(await platform('GET', `/tenants/${id}`), 200);
  expectStatus(await me(tenant.access_token), 200);
});

test('delete with confirm exports the tenant, ends its tokens and frees its slug', async () => {
  const member = doomedMember;
  const { id, slug } = doomed.tenant;

  const json = expectStatus(await platform('DELETE', `/tenants/${id}?confirm=${slug}`), 200);
  assert.equal(json.deleted, true);
  assert.equal(typeof json.export, 'string');
  assert.ok(!json.export.includes('/') && !json.export.includes('..'), `a plain file name: ${json.export}`);

  const file = path.join(VAR_DIR, 'exports', json.export);
  assert.ok(existsSync(file), `export ${file} exists`);
  const text = readFileSync(file, 'utf8');
  JSON.parse(text); // the export is JSON
  assert.ok(text.includes(member.email), 'the export holds the member\'s e-mail');
  assert.ok(text.includes(doomed.user.email), 'the export holds the owner\'s e-mail');
  assert.ok(!/\$argon2/.test(text), 'the export holds no password hash');

  assertError(await me(doomed.access_token), 401, 'unauthorized');
  assertError(await me(member.access_token), 401, 'unauthorized');
  assert.equal((await refresh(member.refresh_token)).status, 401);
  assertError(await login(member.email, member.password), 401, 'invalid_credentials');
  assertError(await platform('GET', `/tenants/${id}`), 404, 'not_found');
  assert.deepEqual(await findTenant(slug), []);
  assertError(await platform('DELETE', `/tenants/${id}?confirm=${slug}`), 404, 'not_found');

  const available = expectStatus(await api('GET', `/api/v1/auth/slug_available?slug=${slug}`), 200);
  assertFields(available, { slug, available: true });
});

test('a deleted tenant\'s schema and role are dropped', async () => {
  const { id } = doomed.tenant;
  assertError(await platform('GET', `/tenants/${id}`), 404, 'not_found');
  const res = await psql(`SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 't_${id}') + (SELECT count(*) FROM pg_roles WHERE rolname = 'crm_t_${id}')`);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout.trim(), '0');
});

test('operator logout answers 204 and ends the operator token', async () => {
  const token = expectStatus(await operatorLogin(), 200).access_token;
  expectStatus(await platform('GET', '/tenants?limit=1', token), 200);
  const res = await platform('POST', '/auth/logout', token);
  assert.equal(res.status, 204, res.text);
  assertError(await platform('GET', '/tenants?limit=1', token), 401, 'unauthorized');
  expectStatus(await platform('GET', '/tenants?limit=1'), 200); // other operator sessions live on
});

testBadBodies('operator login', { path: '/api/v1/platform/auth/login', body: { email: 7 } });
