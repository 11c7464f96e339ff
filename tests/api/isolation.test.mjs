// Tenant isolation: through the API (A never sees or changes B's members or
// sessions) and in PostgreSQL (A's role cannot read B's schema or platform tables).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  addMember, api, assertError, decodeJwt, expectStatus, listMembers, me, patchMember, psql, signup,
} from './lib.mjs';

let a;
let b;
let bMember; // a member of B besides its owner

before(async () => {
  [a, b] = await Promise.all([signup(), signup()]);
  bMember = await addMember(b.access_token, { role: 'sales', name: '乙公司销售' });
});

const inRole = (tenantId, sql) => psql(`BEGIN; SET LOCAL ROLE crm_t_${tenantId}; ${sql}; COMMIT;`);

test('A\'s member list holds none of B\'s members', async () => {
  const emails = (await listMembers(a.access_token)).map((m) => m.email);
  assert.deepEqual(emails, [a.user.email]);
  const bEmails = (await listMembers(b.access_token)).map((m) => m.email).sort();
  assert.deepEqual(bEmails, [b.user.email, bMember.email].sort());
});

test('A cannot PATCH B\'s member (404) and the member is unchanged', async () => {
  assertError(await patchMember(a.access_token, bMember.member.id, { name: '被篡改' }), 404, 'not_found');
  assertError(await patchMember(a.access_token, bMember.member.id, { status: 'disabled' }), 404, 'not_found');
  const listed = (await listMembers(b.access_token)).find((m) => m.id === bMember.member.id);
  assert.equal(listed.name, '乙公司销售');
  assert.equal(listed.status, 'active');
  expectStatus(await me(bMember.access_token), 200);
});

test('A cannot make B\'s member a manager in A (422 fields.manager_id)', async () => {
  const aMember = await addMember(a.access_token, { role: 'sales' });
  const res = await patchMember(a.access_token, aMember.member.id, { manager_id: bMember.member.id });
  assertError(res, 422, 'validation_failed');
  assert.ok(res.json.error.fields?.manager_id, res.text);
});

test('A cannot revoke B\'s session (404) and it stays alive', async () => {
  const bSid = decodeJwt(b.access_token).sid;
  const res = await api('DELETE', `/api/v1/auth/sessions/${encodeURIComponent(bSid)}`, { token: a.access_token });
  assertError(res, 404, 'not_found');
  expectStatus(await me(b.access_token), 200);
});

test('A\'s sessions list holds none of B\'s sessions', async () => {
  const list = expectStatus(await api('GET', '/api/v1/auth/sessions', { token: a.access_token }), 200).data;
  const ids = list.map((s) => String(s.id));
  assert.ok(!ids.includes(decodeJwt(b.access_token).sid));
  assert.ok(ids.includes(decodeJwt(a.access_token).sid));
});

test('SQL: A\'s role counts its own members', async () => {
  const res = await inRole(a.tenant.id, `SELECT count(*) FROM t_${a.tenant.id}.members`);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(Number(res.stdout.trim()), (await listMembers(a.access_token)).length);
});

test('SQL: A\'s role reads its own roles table (the 6 default roles)', async () => {
  const res = await inRole(a.tenant.id, `SELECT count(*) FROM t_${a.tenant.id}.roles`);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout.trim(), '6');
});

test('SQL: A\'s role gets permission denied on B\'s members', async () => {
  const res = await inRole(a.tenant.id, `SELECT * FROM t_${b.tenant.id}.members`);
  assert.notEqual(res.code, 0, res.stdout);
  assert.match(res.stderr, /permission denied/);
});

test('SQL: A\'s role gets permission denied on B\'s roles', async () => {
  const res = await inRole(a.tenant.id, `SELECT * FROM t_${b.tenant.id}.roles`);
  assert.notEqual(res.code, 0, res.stdout);
  assert.match(res.stderr, /permission denied/);
});

test('SQL: A\'s role cannot write into B\'s schema', async () => {
  const res = await inRole(a.tenant.id, `DELETE FROM t_${b.tenant.id}.members`);
  assert.notEqual(res.code, 0, res.stdout);
  assert.match(res.stderr, /permission denied/);
  assert.equal((await listMembers(b.access_token)).length, 2);
});

test('SQL: A\'s role gets permission denied on public.users', async () => {
  const res = await inRole(a.tenant.id, 'SELECT * FROM public.users');
  assert.notEqual(res.code, 0, res.stdout);
  assert.match(res.stderr, /permission denied/);
});
