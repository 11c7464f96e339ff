// Login: the token answer, wrong credentials, users in several tenants
// (409 tenant_required, then login with the slug), brute force → 429.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  addMember, api, assertError, assertTokenShape, deepJson, expectStatus, login, me, signup, testBadBodies, uniqueEmail,
} from './lib.mjs';

let alice; // owner of two companies (signs up twice with one e-mail and password)
let aliceSecond;
let bob; // a member of alice's first company only

before(async () => {
  alice = await signup();
  aliceSecond = await signup({ email: alice.user.email, password: alice.password, company: `阿里巴巴集团 ${Date.now()}` });
  bob = await addMember(alice.access_token, { role: 'sales', name: '王芳' });
});

test('login answers 200 with the token answer of a new session', async () => {
  const json = expectStatus(await login(bob.email, bob.password), 200);
  assertTokenShape(json, { slug: alice.tenant.slug, email: bob.email, role: 'sales' });
  assert.equal(json.tenant.name, alice.tenant.name);
  assert.notEqual(json.refresh_token, bob.refresh_token, 'a login is a new session');
  expectStatus(await me(json.access_token), 200);
});

test('login ignores the case of the e-mail', async () => {
  expectStatus(await login(bob.email.toUpperCase(), bob.password), 200);
});

test('a wrong password and an unknown e-mail answer the same 401 invalid_credentials', async () => {
  const wrong = await login(bob.email, 'wrong-password');
  const unknown = await login(uniqueEmail('nobody'), 'wrong-password');
  assertError(wrong, 401, 'invalid_credentials');
  assertError(unknown, 401, 'invalid_credentials');
  assert.equal(wrong.json.error.message, unknown.json.error.message);
});

test('a user of two tenants gets 409 tenant_required with both tenants listed', async () => {
  const res = await login(alice.user.email, alice.password);
  assertError(res, 409, 'tenant_required');
  const tenants = [...res.json.error.tenants].sort((a, b) => a.slug.localeCompare(b.slug));
  const expected = [alice.tenant, aliceSecond.tenant]
    .map(({ slug, name }) => ({ slug, name }))
    .sort((a, b) => a.slug.localeCompare(b.slug));
  assert.deepEqual(tenants, expected);
});

test('a user of two tenants logs in to each by its slug', async () => {
  for (const answer of [alice, aliceSecond]) {
    const json = expectStatus(await login(alice.user.email, alice.password, answer.tenant.slug), 200);
    assertTokenShape(json, { slug: answer.tenant.slug, role: 'owner' });
    assert.equal(json.tenant.id, answer.tenant.id);
    assert.equal(expectStatus(await me(json.access_token), 200).tenant.id, answer.tenant.id);
  }
});

test('a tenant slug the user is not a member of answers 401 invalid_credentials', async () => {
  assertError(await login(bob.email, bob.password, aliceSecond.tenant.slug), 401, 'invalid_credentials');
});

const postLogin = (body) => api('POST', '/api/v1/auth/login', { body });

test('login without fields answers 422 naming them', async () => {
  const res = await postLogin({});
  assertError(res, 422, 'validation_failed', { email: 'required', password: 'required' });
});

test('login with a number for the e-mail answers 422 invalid_type', async () => {
  assertError(await postLogin({ email: 42, password: 'whatever1' }), 422, 'validation_failed', { email: 'invalid_type' });
});

test('login with a tenant that is not a string answers 422 invalid_type', async () => {
  const res = await postLogin({ email: bob.email, password: bob.password, tenant: 7 });
  assertError(res, 422, 'validation_failed', { tenant: 'invalid_type' });
});

test('brute force: after 5 failed logins the 6th is 429 with Retry-After, even with the right password', async () => {
  const victim = await addMember(alice.access_token, { role: 'service', name: '赵强' });
  for (let i = 0; i < 5; i++) {
    const email = i % 2 ? victim.email.toUpperCase() : victim.email; // the case of the e-mail must not reset the count
    assertError(await login(email, `wrong-password-${i}`), 401, 'invalid_credentials');
  }
  const res = await login(victim.email, victim.password);
  assertError(res, 429, 'rate_limited');
  const retryAfter = Number(res.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 900, `Retry-After: ${res.headers.get('retry-after')}`);
});

test('JSON nested 32 deep is still parsed (the limit is 32)', async () => {
  const res = await api('POST', '/api/v1/auth/login', { raw: deepJson(32, { email: bob.email }) });
  assertError(res, 422, 'validation_failed', { password: 'required' });
  assertError(await api('POST', '/api/v1/auth/login', { raw: deepJson(33, { email: bob.email }) }), 400, 'invalid_json');
});

testBadBodies('login', { path: '/api/v1/auth/login', body: { email: 'x@example.com' } });
