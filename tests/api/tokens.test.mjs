// Access tokens (missing, garbage, forged, expired, other audience, bad
// signature), refresh rotation with reuse detection, and logout.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  api, assertError, assertTokenShape, decodeJwt, expectStatus, loginOk, me, now, operatorToken, refresh,
  signJwt, signup, testBadBodies,
} from './lib.mjs';

let owner;
let claims; // the claims of owner's access token

// A fresh session of the owner: {access_token, refresh_token, …}.
const newSession = () => loginOk(owner.user.email, owner.password);

before(async () => {
  owner = await signup();
  claims = decodeJwt(owner.access_token);
});

test('an access token carries the documented claims', () => {
  assert.equal(claims.sub, String(owner.user.id));
  assert.equal(claims.tid, owner.tenant.id);
  assert.equal(typeof claims.sid, 'string');
  assert.ok(claims.sid.length > 0);
  assert.equal(claims.role, 'owner');
  assert.equal(claims.aud, 'crm');
  assert.equal(claims.exp - claims.iat, 900);
  assert.ok(Math.abs(claims.iat - now()) < 120, 'iat is now');
});

test('no token answers 401 unauthorized', async () => {
  assertError(await me(), 401, 'unauthorized');
});

test('a garbage token answers 401 unauthorized', async () => {
  for (const authorization of ['Bearer garbage', 'Bearer a.b.c', 'Bearer ', `Basic ${owner.access_token}`, owner.access_token]) {
    assertError(await api('GET', '/api/v1/me', { headers: { authorization } }), 401, 'unauthorized');
  }
});

test('the same claims signed again with the key are accepted (the forging helper is sound)', async () => {
  expectStatus(await me(signJwt(claims)), 200);
});

test('an expired token answers 401 token_expired', async () => {
  const token = signJwt({ ...claims, iat: now() - 2000, exp: now() - 1100 });
  assertError(await me(token), 401, 'token_expired');
});

test('a token for the platform audience answers 401 on a tenant call', async () => {
  assertError(await me(signJwt({ ...claims, aud: 'crm-platform' })), 401, 'unauthorized');
});

test('a token without an audience answers 401', async () => {
  const { aud, ...rest } = claims;
  assertError(await me(signJwt(rest)), 401, 'unauthorized');
});

test('a token with a bad signature answers 401 unauthorized', async () => {
  assertError(await me(signJwt(claims, { key: 'not-the-key-not-the-key-not-the-key' })), 401, 'unauthorized');
  const [h, p, s] = owner.access_token.split('.');
  const flipped = `${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
  assertError(await me(flipped), 401, 'unauthorized');
});

test('an unsigned token (alg none) answers 401 unauthorized', async () => {
  assertError(await me(signJwt(claims, { alg: 'none' })), 401, 'unauthorized');
});

test('changed claims under the original signature answer 401', async () => {
  const [h, , s] = owner.access_token.split('.');
  const body = Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url');
  assertError(await me(`${h}.${body}.${s}`), 401, 'unauthorized');
});

test('an operator token answers 401 on tenant calls', async () => {
  const token = await operatorToken();
  assertError(await me(token), 401, 'unauthorized');
  assertError(await api('GET', '/api/v1/members', { token }), 401, 'unauthorized');
});

test('refresh answers a new pair; the new access token works', async () => {
  const session = await newSession();
  const json = expectStatus(await refresh(session.refresh_token), 200);
  assertTokenShape(json, { slug: owner.tenant.slug, email: owner.user.email, role: 'owner' });
  assert.notEqual(json.refresh_token, session.refresh_token);
  assert.equal(decodeJwt(json.access_token).sid, decodeJwt(session.access_token).sid, 'same session');
  expectStatus(await me(json.access_token), 200);
});

test('a rotated refresh token is dead', async () => {
  const session = await newSession();
  expectStatus(await refresh(session.refresh_token), 200);
  assertError(await refresh(session.refresh_token), 401, 'invalid_refresh_token');
});

test('reusing a refresh token ends the whole session', async () => {
  const session = await newSession();
  const newer = expectStatus(await refresh(session.refresh_token), 200);
  assertError(await refresh(session.refresh_token), 401, 'invalid_refresh_token');
  assertError(await me(newer.access_token), 401, 'unauthorized');
  assertError(await refresh(newer.refresh_token), 401, 'invalid_refresh_token');
});

test('reuse ends only that session: another session of the user keeps working', async () => {
  const other = await newSession();
  const session = await newSession();
  expectStatus(await refresh(session.refresh_token), 200);
  assertError(await refresh(session.refresh_token), 401, 'invalid_refresh_token');
  expectStatus(await me(other.access_token), 200);
});

test('an unknown or malformed refresh token answers 401 invalid_refresh_token', async () => {
  assertError(await refresh('no-such-refresh-token-0123456789abcdef'), 401, 'invalid_refresh_token');
  assertError(await refresh(owner.access_token), 401, 'invalid_refresh_token');
});

test('refresh without a token or with a number answers 422', async () => {
  assertError(await api('POST', '/api/v1/auth/refresh', { body: {} }), 422, 'validation_failed', { refresh_token: 'required' });
  assertError(await refresh(12345), 422, 'validation_failed', { refresh_token: 'invalid_type' });
});

test('logout answers 204 and ends the session at once', async () => {
  const session = await newSession();
  const res = await api('POST', '/api/v1/auth/logout', { token: session.access_token });
  assert.equal(res.status, 204, res.text);
  assert.equal(res.text, '');
  assertError(await me(session.access_token), 401, 'unauthorized');
  assertError(await refresh(session.refresh_token), 401, 'invalid_refresh_token');
});

test('logout ends only its own session', async () => {
  const other = await newSession();
  const session = await newSession();
  assert.equal((await api('POST', '/api/v1/auth/logout', { token: session.access_token })).status, 204);
  expectStatus(await me(other.access_token), 200);
});

test('logout without a token answers 401', async () => {
  assertError(await api('POST', '/api/v1/auth/logout'), 401, 'unauthorized');
});

testBadBodies('refresh', { path: '/api/v1/auth/refresh', body: { refresh_token: 7 } });
