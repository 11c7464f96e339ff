// Members: list, invitation flow (invite, get, accept), permissions by role,
// PATCH (role, name, manager, status) and its guards, disabling a member.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  addMember, api, assertError, assertFields, assertKeys, assertTime, assertTokenShape, expectStatus, invite, listMembers, login,
  loginOk, me, patchMember, refresh, signup, testBadBodies, uniqueEmail, PASSWORD,
} from './lib.mjs';

let owner;
let ownerMember; // the owner's row in GET /members

const getInvitation = (token) => api('POST', '/api/v1/invitations/lookup', { body: { token } });
const accept = (body) => api('POST', '/api/v1/invitations/accept', { body });
const MEMBER_KEYS = ['created_at', 'email', 'id', 'manager_id', 'name', 'role', 'status', 'user_id'];

before(async () => {
  owner = await signup();
  [ownerMember] = await listMembers(owner.access_token);
});

test('a new tenant lists its owner as the only member', async () => {
  const res = await api('GET', '/api/v1/members', { token: owner.access_token });
  const json = expectStatus(res, 200);
  assert.equal(json.next_cursor, null);
  assert.equal(json.data.length, 1);
  const [m] = json.data;
  assertKeys(m, MEMBER_KEYS, 'member');
  assert.equal(typeof m.id, 'number');
  assert.equal(m.user_id, owner.user.id);
  assert.equal(m.email, owner.user.email);
  assert.equal(m.name, owner.user.name);
  assert.equal(m.role, 'owner');
  assert.equal(m.manager_id, null);
  assert.equal(m.status, 'active');
  assertTime(m.created_at);
});

test('members need a token', async () => {
  assertError(await api('GET', '/api/v1/members'), 401, 'unauthorized');
  assertError(await invite(undefined, { email: uniqueEmail(), role: 'sales' }), 401, 'unauthorized');
  assertError(await patchMember(undefined, ownerMember.id, { name: 'x' }), 401, 'unauthorized');
});

test('invitation flow: invite, get, accept; the member logs in and sees /me and the members', async () => {
  const email = uniqueEmail('invitee');
  const inv = await invite(owner.access_token, { email, name: '李四', role: 'sales' });
  const invited = expectStatus(inv, 201);
  assertKeys(invited.member, MEMBER_KEYS, 'member');
  assert.equal(invited.member.status, 'invited');
  assert.equal(invited.member.role, 'sales');
  assert.equal(invited.member.email, email);
  assert.equal(invited.member.name, '李四');
  assert.equal(typeof invited.invite_token, 'string');
  assert.ok(invited.invite_token.length >= 16);
  assert.equal(invited.invite_url, `/invite#${invited.invite_token}`);

  const listed = (await listMembers(owner.access_token)).find((m) => m.id === invited.member.id);
  assert.equal(listed?.status, 'invited');

  const shown = expectStatus(await getInvitation(invited.invite_token), 200);
  assertFields(shown, { email, name: '李四', role: 'sales' }, 'invitation');
  assertFields(shown.tenant, { slug: owner.tenant.slug, name: owner.tenant.name }, 'invitation.tenant');

  const accepted = expectStatus(await accept({ token: invited.invite_token, name: '李四·销售', password: PASSWORD }), 200);
  assertTokenShape(accepted, { slug: owner.tenant.slug, email, role: 'sales' });
  assert.equal(accepted.user.name, '李四·销售');

  const again = await loginOk(email, PASSWORD);
  const profile = expectStatus(await me(again.access_token), 200);
  assert.equal(profile.role.key, 'sales');
  assert.equal(profile.user.name, '李四·销售');
  assert.ok(profile.permissions.includes('members.read'));
  assert.ok(!profile.permissions.includes('members.manage'));

  const members = await listMembers(again.access_token);
  const self = members.find((m) => m.email === email);
  assert.equal(self.status, 'active');
  assert.equal(self.role, 'sales');
  assert.equal(self.name, '李四·销售');
  assert.ok(members.some((m) => m.role === 'owner'));
  assert.deepEqual(members.map((m) => m.id), [...members.map((m) => m.id)].sort((a, b) => a - b), 'ordered by id');
});

test('a used invitation is gone: get and accept answer 404', async () => {
  const invited = expectStatus(await invite(owner.access_token, { email: uniqueEmail(), role: 'service' }), 201);
  expectStatus(await accept({ token: invited.invite_token, password: PASSWORD }), 200);
  assertError(await getInvitation(invited.invite_token), 404, 'not_found');
  assertError(await accept({ token: invited.invite_token, password: PASSWORD }), 404, 'not_found');
});

test('an unknown invitation token answers 404', async () => {
  assertError(await getInvitation('no-such-invitation-token'), 404, 'not_found');
  assertError(await accept({ token: 'no-such-invitation-token', password: PASSWORD }), 404, 'not_found');
});

test('accept validates its fields', async () => {
  const invited = expectStatus(await invite(owner.access_token, { email: uniqueEmail(), role: 'sales' }), 201);
  const cases = [
    [{ token: invited.invite_token, password: 'short' }, { password: 'too_short' }],
    [{ token: invited.invite_token }, { password: 'required' }],
    [{ token: invited.invite_token, password: 12345678 }, { password: 'invalid_type' }],
    [{ password: PASSWORD }, { token: 'required' }],
  ];
  for (const [body, fields] of cases) assertError(await accept(body), 422, 'validation_failed', fields);
  expectStatus(await getInvitation(invited.invite_token), 200); // still usable
});

test('inviting a user who already has an account: accept needs that user\'s password', async () => {
  const other = await signup({ company: `腾讯科技 ${Date.now()}` });
  const invited = expectStatus(await invite(owner.access_token, { email: other.user.email, role: 'manager' }), 201);
  assertError(await accept({ token: invited.invite_token, password: 'not-their-password' }), 401, 'invalid_credentials');
  const accepted = expectStatus(await accept({ token: invited.invite_token, password: other.password }), 200);
  assert.equal(accepted.user.id, other.user.id);
  assert.equal(accepted.tenant.id, owner.tenant.id);
  assert.equal(accepted.role, 'manager');
  assertError(await login(other.user.email, other.password), 409, 'tenant_required');
});

test('invite validates e-mail and role', async () => {
  const cases = [
    [{ role: 'sales' }, { email: 'required' }],
    [{ email: 42, role: 'sales' }, { email: 'invalid_type' }],
    [{ email: 'not-an-email', role: 'sales' }, { email: 'invalid_format' }],
    [{ email: uniqueEmail() }, { role: 'required' }],
    [{ email: uniqueEmail(), role: 'owner' }, { role: 'invalid_value' }],
    [{ email: uniqueEmail(), role: 'no-such-role' }, { role: 'invalid_value' }],
    [{ email: uniqueEmail(), role: 5 }, { role: 'invalid_type' }],
  ];
  for (const [body, fields] of cases) {
    const res = await invite(owner.access_token, body);
    assertError(res, 422, 'validation_failed');
    for (const field of Object.keys(fields)) assert.ok(res.json.error.fields?.[field], `fields.${field} of ${res.text}`);
    if (fields.email) assert.equal(res.json.error.fields.email, fields.email);
  }
});

test('inviting an existing member answers 409 already_member', async () => {
  const res = await invite(owner.access_token, { email: owner.user.email, role: 'sales' });
  assertError(res, 409, 'already_member');
});

test('every default role can be invited', async () => {
  for (const role of ['admin', 'manager', 'sales', 'service', 'read-only']) {
    const invited = expectStatus(await invite(owner.access_token, { email: uniqueEmail(role), role }), 201);
    assert.equal(invited.member.role, role);
  }
});

test('a sales member gets 403 on invite and PATCH but can list members', async () => {
  const sales = await addMember(owner.access_token, { role: 'sales' });
  assertError(await invite(sales.access_token, { email: uniqueEmail(), role: 'sales' }), 403, 'forbidden');
  assertError(await patchMember(sales.access_token, ownerMember.id, { name: '改名' }), 403, 'forbidden');
  assertError(await patchMember(sales.access_token, sales.member.id, { role: 'admin' }), 403, 'forbidden');
  assert.ok((await listMembers(sales.access_token)).length >= 2);
});

test('an admin can invite and change members', async () => {
  const admin = await addMember(owner.access_token, { role: 'admin' });
  const invited = expectStatus(await invite(admin.access_token, { email: uniqueEmail(), role: 'sales' }), 201);
  const patched = expectStatus(await patchMember(admin.access_token, invited.member.id, { role: 'service' }), 200);
  assert.equal(patched.role, 'service');
});

test('PATCH changes role and a Chinese name and answers the member', async () => {
  const m = await addMember(owner.access_token, { role: 'sales' });
  const res = await patchMember(owner.access_token, m.member.id, { role: 'manager', name: '欧阳娜娜' });
  const json = expectStatus(res, 200);
  assertKeys(json, MEMBER_KEYS, 'member');
  assert.equal(json.id, m.member.id);
  assert.equal(json.role, 'manager');
  assert.equal(json.name, '欧阳娜娜');
  const listed = (await listMembers(owner.access_token)).find((x) => x.id === m.member.id);
  assert.equal(listed.name, '欧阳娜娜');
  assert.equal(listed.role, 'manager');
});

test('PATCH sets and clears a manager', async () => {
  const m = await addMember(owner.access_token, { role: 'sales' });
  assert.equal(expectStatus(await patchMember(owner.access_token, m.member.id, { manager_id: ownerMember.id }), 200).manager_id, ownerMember.id);
  assert.equal(expectStatus(await patchMember(owner.access_token, m.member.id, { manager_id: null }), 200).manager_id, null);
});

test('a manager cycle answers 422 fields.manager_id', async () => {
  const a = await addMember(owner.access_token, { role: 'manager' });
  const b = await addMember(owner.access_token, { role: 'sales' });
  const c = await addMember(owner.access_token, { role: 'sales' });
  expectStatus(await patchMember(owner.access_token, b.member.id, { manager_id: a.member.id }), 200);
  expectStatus(await patchMember(owner.access_token, c.member.id, { manager_id: b.member.id }), 200);
  assertError(await patchMember(owner.access_token, a.member.id, { manager_id: b.member.id }), 422, 'validation_failed', { manager_id: ['invalid_value', 'invalid_format'] });
  assertError(await patchMember(owner.access_token, a.member.id, { manager_id: c.member.id }), 422, 'validation_failed', { manager_id: ['invalid_value', 'invalid_format'] });
  assertError(await patchMember(owner.access_token, a.member.id, { manager_id: a.member.id }), 422, 'validation_failed', { manager_id: ['invalid_value', 'invalid_format'] });
  const listed = (await listMembers(owner.access_token)).find((x) => x.id === a.member.id);
  assert.equal(listed.manager_id, null, 'nothing changed');
});

test('a manager that is not a member answers 422 fields.manager_id', async () => {
  const m = await addMember(owner.access_token, { role: 'sales' });
  const res = await patchMember(owner.access_token, m.member.id, { manager_id: 999999999 });
  assertError(res, 422, 'validation_failed');
  assert.ok(res.json.error.fields?.manager_id, res.text);
  assertError(await patchMember(owner.access_token, m.member.id, { manager_id: 'x' }), 422, 'validation_failed', { manager_id: 'invalid_type' });
});

test('PATCH validates role and status', async () => {
  const m = await addMember(owner.access_token, { role: 'sales' });
  assertError(await patchMember(owner.access_token, m.member.id, { status: 'gone' }), 422, 'validation_failed', { status: 'invalid_value' });
  assertError(await patchMember(owner.access_token, m.member.id, { status: 1 }), 422, 'validation_failed', { status: 'invalid_type' });
  assertError(await patchMember(owner.access_token, m.member.id, { role: 'no-such-role' }), 422, 'validation_failed', { role: 'invalid_value' });
  assertError(await patchMember(owner.access_token, m.member.id, { name: '' }), 422, 'validation_failed', { name: ['too_short', 'required', 'invalid_value'] });
});

test('PATCH of an unknown member answers 404', async () => {
  assertError(await patchMember(owner.access_token, 999999999, { name: '无名' }), 404, 'not_found');
});

test('nobody can change the owner\'s status or role, nor assign role owner', async () => {
  const admin = await addMember(owner.access_token, { role: 'admin' });
  assertError(await patchMember(admin.access_token, ownerMember.id, { status: 'disabled' }), 403, 'forbidden');
  assertError(await patchMember(admin.access_token, ownerMember.id, { role: 'sales' }), 403, 'forbidden');
  assertError(await patchMember(owner.access_token, ownerMember.id, { status: 'disabled' }), 403, 'forbidden');
  assertError(await patchMember(owner.access_token, admin.member.id, { role: 'owner' }), 403, 'forbidden');
  expectStatus(await me(owner.access_token), 200);
});

test('nobody can disable themselves', async () => {
  const admin = await addMember(owner.access_token, { role: 'admin' });
  assertError(await patchMember(admin.access_token, admin.member.id, { status: 'disabled' }), 403, 'forbidden');
  expectStatus(await me(admin.access_token), 200);
});

test('a disabled member is locked out at once: token 401, refresh fails, login 403 member_disabled', async () => {
  const m = await addMember(owner.access_token, { role: 'sales' });
  const second = await loginOk(m.email, m.password);
  const json = expectStatus(await patchMember(owner.access_token, m.member.id, { status: 'disabled' }), 200);
  assert.equal(json.status, 'disabled');
  assertError(await me(m.access_token), 401, 'unauthorized');
  assertError(await me(second.access_token), 401, 'unauthorized');
  const refreshed = await refresh(m.refresh_token);
  assert.ok([401, 403].includes(refreshed.status), `refresh of a disabled member: ${refreshed.status} ${refreshed.text}`);
  assertError(await login(m.email, m.password), 403, 'member_disabled');
  const listed = (await listMembers(owner.access_token)).find((x) => x.id === m.member.id);
  assert.equal(listed.status, 'disabled');
});

test('re-activating a disabled member lets them log in again', async () => {
  const m = await addMember(owner.access_token, { role: 'sales' });
  expectStatus(await patchMember(owner.access_token, m.member.id, { status: 'disabled' }), 200);
  assertError(await login(m.email, m.password), 403, 'member_disabled');
  assert.equal(expectStatus(await patchMember(owner.access_token, m.member.id, { status: 'active' }), 200).status, 'active');
  expectStatus(await me((await loginOk(m.email, m.password)).access_token), 200);
});

testBadBodies('invite', {
  path: '/api/v1/members/invite',
  token: () => owner.access_token,
  body: { email: 7, role: 'sales' },
});
testBadBodies('PATCH member', {
  method: 'PATCH',
  path: () => `/api/v1/members/${ownerMember.id}`,
  token: () => owner.access_token,
  body: { name: '王五' },
});
testBadBodies('accept invitation', { path: '/api/v1/invitations/accept', body: { token: 7 } });
testBadBodies('invitation lookup', { path: '/api/v1/invitations/lookup', body: { token: 7 } });
