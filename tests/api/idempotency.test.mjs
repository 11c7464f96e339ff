// Idempotency-Key on POST (API.md): the same key from the same caller within
// 24 h answers the first response again and does nothing again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, assertError, expectStatus, listMembers, signup, uniqueEmail } from './lib.mjs';

function inviteWithKey(token, key, body) {
  return api('POST', '/api/v1/members/invite', { token, body, headers: { 'Idempotency-Key': key } });
}

test('a repeated invite with the same key replays the first answer and invites once', async () => {
  const owner = await signup();
  const body = { email: uniqueEmail('idem'), role: 'sales' };
  const key = `k-${Date.now()}`;
  const first = expectStatus(await inviteWithKey(owner.access_token, key, body), 201);
  const again = await inviteWithKey(owner.access_token, key, body);
  expectStatus(again, 201);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(again.json, first);
  const members = await listMembers(owner.access_token);
  assert.equal(members.filter((m) => m.email === body.email).length, 1);
});

test('the same key with another body is refused with 409 and changes nothing', async () => {
  const owner = await signup();
  const key = `k2-${Date.now()}`;
  expectStatus(await inviteWithKey(owner.access_token, key, { email: uniqueEmail('a'), role: 'sales' }), 201);
  const other = uniqueEmail('b');
  assertError(await inviteWithKey(owner.access_token, key, { email: other, role: 'sales' }), 409, 'conflict');
  const members = await listMembers(owner.access_token);
  assert.equal(members.some((m) => m.email === other), false);
});

test('keys are per caller: another tenant using the same key is not answered from the first', async () => {
  const a = await signup();
  const b = await signup();
  const key = `shared-${Date.now()}`;
  const first = expectStatus(await inviteWithKey(a.access_token, key, { email: uniqueEmail('x'), role: 'sales' }), 201);
  const res = await inviteWithKey(b.access_token, key, { email: uniqueEmail('y'), role: 'sales' });
  const second = expectStatus(res, 201);
  assert.notEqual(second.member.email, first.member.email);
  assert.equal(res.headers.get('idempotent-replayed'), null);
});

test('a malformed key answers 400 and invites nobody', async () => {
  const owner = await signup();
  const email = uniqueEmail('bad');
  assertError(await inviteWithKey(owner.access_token, 'x'.repeat(200), { email, role: 'sales' }), 400, 'bad_request');
  assertError(await inviteWithKey(owner.access_token, 'has space', { email, role: 'sales' }), 400, 'bad_request');
  const members = await listMembers(owner.access_token);
  assert.equal(members.some((m) => m.email === email), false);
});
