// Sign-up and slug availability: the token answer, Chinese text round trip,
// uniqueness of slugs and e-mails, validation of every field, bad bodies.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  api, assertError, assertFields, assertTokenShape, expectStatus, listMembers, login, me, signup, signupBody,
  psql, testBadBodies, unique, PASSWORD,
} from './lib.mjs';

const SIGNUP = '/api/v1/auth/signup';
let first; // {answer, body} of the sign-up made in `before`

before(async () => {
  const n = unique();
  const body = signupBody({ email: `Owner-${n}@Example.COM`, company: `华为技术有限公司 ${n}`, name: `张伟·${n}` });
  const res = await api('POST', SIGNUP, { body });
  first = { res, body, answer: res.json };
});

test('sign-up answers 201 with the token answer of the new owner', () => {
  const { res, body, answer } = first;
  expectStatus(res, 201);
  assertTokenShape(answer, { slug: body.slug, role: 'owner' });
  assert.ok(res.headers.get('x-request-id'));
});

test('sign-up stores the e-mail lower-case', () => {
  assert.equal(first.answer.user.email, first.body.email.toLowerCase());
});

test('Chinese company and owner names come back identical', async () => {
  const { body, answer } = first;
  assert.equal(answer.tenant.name, body.company);
  assert.equal(answer.user.name, body.name);
  const profile = expectStatus(await me(answer.access_token), 200);
  assert.equal(profile.tenant.name, body.company);
  assert.equal(profile.user.name, body.name);
  const [owner] = await listMembers(answer.access_token);
  assert.equal(owner.name, body.name);
});

test('the new owner sees /me with role owner, default locale and both member permissions', async () => {
  const { body, answer } = first;
  const profile = expectStatus(await me(answer.access_token), 200);
  assertFields(profile.user, { id: answer.user.id, email: body.email.toLowerCase(), name: body.name, locale: 'zh-CN' }, 'user');
  assertFields(profile.tenant, { id: answer.tenant.id, slug: body.slug, name: body.company, status: 'active' }, 'tenant');
  assert.equal(profile.role.key, 'owner');
  assert.equal(typeof profile.role.name, 'string');
  assert.ok(profile.permissions.includes('members.read'));
  assert.ok(profile.permissions.includes('members.manage'));
});

test('the owner can log in with the new password', async () => {
  const res = await login(first.body.email.toLowerCase(), PASSWORD);
  assertTokenShape(expectStatus(res, 200), { slug: first.body.slug, role: 'owner' });
});

test('a taken slug answers 409 slug_taken', async () => {
  const res = await api('POST', SIGNUP, { body: signupBody({ slug: first.body.slug }) });
  assertError(res, 409, 'slug_taken');
});

test('a sign-up refused halfway (slug taken after the new user was written) leaves nothing behind', async () => {
  const body = signupBody({ slug: first.body.slug });
  assertError(await api('POST', SIGNUP, { body }), 409, 'slug_taken');
  const left = await psql(`SELECT (SELECT count(*) FROM users WHERE email = '${body.email.toLowerCase()}')
    + (SELECT count(*) FROM tenants WHERE name = '${body.company}')`);
  assert.equal(left.code, 0, left.stderr);
  assert.equal(left.stdout.trim(), '0');
  // The e-mail is free: the same person can sign up with another password.
  expectStatus(await api('POST', SIGNUP, { body: { ...body, slug: `${body.slug}-2`, password: 'a-different-pass' } }), 201);
});

test('an existing e-mail with another password answers 409 email_taken', async () => {
  const res = await api('POST', SIGNUP, { body: signupBody({ email: first.answer.user.email, password: 'not-the-password' }) });
  assertError(res, 409, 'email_taken');
});

test('an existing e-mail with its password makes that user owner of a second company', async () => {
  const company = '北京字节跳动科技有限公司'.repeat(9).slice(0, 100); // 100 characters, 300 bytes
  const second = await signup({ email: first.answer.user.email, password: PASSWORD, company });
  assert.equal(second.user.id, first.answer.user.id);
  assert.notEqual(second.tenant.id, first.answer.tenant.id);
  assert.equal(second.tenant.name, company);
  assert.equal(second.role, 'owner');
});

test('slug_available: a free slug is available', async () => {
  const slug = `free-${unique()}`;
  const json = expectStatus(await api('GET', `/api/v1/auth/slug_available?slug=${slug}`), 200);
  assertFields(json, { slug, available: true });
});

test('slug_available: a taken slug is not available (reason taken)', async () => {
  const json = expectStatus(await api('GET', `/api/v1/auth/slug_available?slug=${first.body.slug}`), 200);
  assertFields(json, { slug: first.body.slug, available: false, reason: 'taken' });
});

test('slug_available: a malformed slug is not available (reason invalid_format)', async () => {
  for (const slug of ['Bad_Slug', 'a', '-abc', 'abc-', 'x'.repeat(41)]) {
    const json = expectStatus(await api('GET', `/api/v1/auth/slug_available?slug=${slug}`), 200);
    assertFields(json, { slug, available: false, reason: 'invalid_format' }, slug);
  }
});

test('slug_available: a missing slug answers 422', async () => {
  assertError(await api('GET', '/api/v1/auth/slug_available'), 422, 'validation_failed', { slug: 'required' });
});

test('sign-up without any field names every required field', async () => {
  const res = await api('POST', SIGNUP, { body: {} });
  assertError(res, 422, 'validation_failed');
  for (const field of ['company', 'slug', 'name', 'email', 'password']) {
    assert.equal(res.json.error.fields?.[field], 'required', `fields.${field}: ${res.text}`);
  }
});

// Each case changes one field of an otherwise valid body.
const invalid = [
  ['email', 42, 'invalid_type'],
  ['email', 'not-an-email', 'invalid_format'],
  ['email', `${'a'.repeat(250)}@example.com`, ['too_long', 'invalid_format']],
  ['password', 12345678, 'invalid_type'],
  ['password', 'short', 'too_short'],
  ['password', 'p'.repeat(257), 'too_long'],
  ['company', { name: 'x' }, 'invalid_type'],
  ['company', '', ['too_short', 'required']],
  ['company', '公'.repeat(101), 'too_long'],
  ['name', ['张伟'], 'invalid_type'],
  ['name', 'n'.repeat(101), 'too_long'],
  ['slug', true, 'invalid_type'],
  ['slug', 'Bad_Slug', 'invalid_format'],
  ['locale', 'fr', 'invalid_value'],
];
for (const [field, value, reason] of invalid) {
  test(`sign-up with ${field} = ${JSON.stringify(value).slice(0, 30)} answers 422 ${reason}`, async () => {
    const res = await api('POST', SIGNUP, { body: signupBody({ [field]: value }) });
    assertError(res, 422, 'validation_failed', { [field]: reason });
  });
}

test('a name with a NUL character is refused, not stored cut short', async () => {
  const res = await api('POST', SIGNUP, { body: signupBody({ name: '张伟\u0000管理员' }) });
  assert.ok([400, 422].includes(res.status), `expected 400/422, got ${res.status} ${res.text.slice(0, 300)}`);
  assert.ok(res.json?.error?.code, 'error shape');
});

test('sign-up with a string over 64 KiB is refused', async () => {
  const res = await api('POST', SIGNUP, { body: signupBody({ company: '长'.repeat(70 * 1024) }) });
  assert.ok([400, 422].includes(res.status), `got ${res.status} ${res.text.slice(0, 200)}`);
  assert.ok(res.json?.error?.code, 'error shape');
});

testBadBodies('sign-up', { path: SIGNUP, body: { company: '公司', email: 'x@example.com' } });
