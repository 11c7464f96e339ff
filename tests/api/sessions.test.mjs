// The caller's sessions (list, revoke) and password change (ends every other
// session of the user, not the current one).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  addMember, api, assertError, assertKeys, assertTime, decodeJwt, expectStatus, login, loginOk, me, refresh, signup,
  testBadBodies, USER_AGENT, PASSWORD,
} from './lib.mjs';

let owner;

const sessions = async (token) => expectStatus(await api('GET', '/api/v1/auth/sessions', { token }), 200).data;
const revoke = (token, id) => api('DELETE', `/api/v1/auth/sessions/${encodeURIComponent(id)}`, { token });
const sidOf = (answer) => decodeJwt(answer.access_token).sid;
const changePassword = (token, body) => api('POST', '/api/v1/auth/password', { token, body });

before(async () => {
  owner = await signup();
});

test('sessions lists the caller\'s live sessions with exactly one current', async () => {
  const a = await loginOk(owner.user.email, owner.password);
  const b = await loginOk(owner.user.email, owner.password);
  const list = await sessions(b.access_token);
  const ids = list.map((s) => String(s.id));
  assert.ok(ids.includes(sidOf(a)), `session of a in ${ids}`);
  assert.ok(ids.includes(sidOf(b)), `session of b in ${ids}`);
  const current = list.filter((s) => s.current === true);
  assert.equal(current.length, 1);
  assert.equal(String(current[0].id), sidOf(b));
  for (const s of list) {
    assertKeys(s, ['id', 'created_at', 'last_used_at', 'ip', 'user_agent', 'current'], 'session');
    assertTime(s.created_at, 'created_at');
    assertTime(s.last_used_at, 'last_used_at');
    assert.equal(typeof s.current, 'boolean');
  }
  assert.equal(current[0].user_agent, USER_AGENT);
  assert.match(current[0].ip, /^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
});

test('sessions shows only the caller\'s own sessions', async () => {
  const member = await addMember(owner.access_token, { role: 'sales' });
  const list = await sessions(owner.access_token);
  assert.ok(!list.map((s) => String(s.id)).includes(sidOf(member)));
});

test('revoking a session answers 204 and ends it at once', async () => {
  const a = await loginOk(owner.user.email, owner.password);
  const b = await loginOk(owner.user.email, owner.password);
  const res = await revoke(b.access_token, sidOf(a));
  assert.equal(res.status, 204, res.text);
  assertError(await me(a.access_token), 401, 'unauthorized');
  assertError(await refresh(a.refresh_token), 401, 'invalid_refresh_token');
  const ids = (await sessions(b.access_token)).map((s) => String(s.id));
  assert.ok(!ids.includes(sidOf(a)), 'the revoked session is gone from the list');
  expectStatus(await me(b.access_token), 200);
});

test('revoking an unknown session answers 404', async () => {
  assertError(await revoke(owner.access_token, 'no-such-session'), 404, 'not_found');
  assertError(await revoke(owner.access_token, '999999999'), 404, 'not_found');
});

test('revoking another user\'s session of the same tenant answers 404 and leaves it alive', async () => {
  const member = await addMember(owner.access_token, { role: 'admin' });
  assertError(await revoke(owner.access_token, sidOf(member)), 404, 'not_found');
  expectStatus(await me(member.access_token), 200);
});

test('sessions and revoke need a token', async () => {
  assertError(await api('GET', '/api/v1/auth/sessions'), 401, 'unauthorized');
  assertError(await revoke(undefined, sidOf(owner)), 401, 'unauthorized');
});

test('password change ends every other session but not the current one', async () => {
  const user = await addMember(owner.access_token, { role: 'sales', name: '周杰' });
  const other = await loginOk(user.email, PASSWORD);
  const current = await loginOk(user.email, PASSWORD);
  const res = await changePassword(current.access_token, { current_password: PASSWORD, new_password: 'brand-new-pass-99' });
  assert.equal(res.status, 204, res.text);
  expectStatus(await me(current.access_token), 200);
  expectStatus(await refresh(current.refresh_token), 200);
  assertError(await me(other.access_token), 401, 'unauthorized');
  assertError(await me(user.access_token), 401, 'unauthorized');
  assertError(await refresh(other.refresh_token), 401, 'invalid_refresh_token');
  assertError(await login(user.email, PASSWORD), 401, 'invalid_credentials');
  expectStatus(await login(user.email, 'brand-new-pass-99'), 200);
});

test('password change with a wrong current password answers 422 incorrect and changes nothing', async () => {
  const user = await addMember(owner.access_token, { role: 'sales' });
  const res = await changePassword(user.access_token, { current_password: 'not-my-password', new_password: 'another-pass-77' });
  assertError(res, 422, 'validation_failed', { current_password: 'incorrect' });
  expectStatus(await me(user.access_token), 200);
  expectStatus(await login(user.email, PASSWORD), 200);
});

test('password change validates the new password and the field types', async () => {
  const user = await addMember(owner.access_token, { role: 'sales' });
  const cases = [
    [{ current_password: PASSWORD, new_password: 'short' }, { new_password: 'too_short' }],
    [{ current_password: PASSWORD, new_password: 'x'.repeat(257) }, { new_password: 'too_long' }],
    [{ current_password: PASSWORD, new_password: 12345678 }, { new_password: 'invalid_type' }],
    [{ current_password: PASSWORD }, { new_password: 'required' }],
    [{ new_password: 'another-pass-77' }, { current_password: 'required' }],
  ];
  for (const [body, fields] of cases) {
    assertError(await changePassword(user.access_token, body), 422, 'validation_failed', fields);
  }
  expectStatus(await login(user.email, PASSWORD), 200);
});

test('password change needs a token', async () => {
  assertError(await changePassword(undefined, { current_password: PASSWORD, new_password: 'another-pass-77' }), 401, 'unauthorized');
});

testBadBodies('password change', {
  path: '/api/v1/auth/password',
  token: () => owner.access_token,
  body: { current_password: 7 },
});
