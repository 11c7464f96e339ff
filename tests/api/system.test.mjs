// System calls without auth (health, version, OpenAPI), routing (404 vs 405),
// nginx's own refusals in the error shape and the X-Request-Id every answer
// carries.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { api, assertError, BASE_URL, expectStatus } from './lib.mjs';

test('health answers ok with db and redis ok', async () => {
  const res = await api('GET', '/api/v1/health');
  const json = expectStatus(res, 200);
  assert.match(res.headers.get('content-type') || '', /^application\/json/);
  assert.equal(json.status, 'ok');
  assert.equal(json.db, 'ok');
  assert.equal(json.redis, 'ok');
  assert.match(json.version, /^\d+\.\d+\.\d+/);
  assert.ok(res.headers.get('x-request-id'), 'X-Request-Id on health');
});

test('version answers the same version as health', async () => {
  const version = expectStatus(await api('GET', '/api/v1/version'), 200);
  const health = expectStatus(await api('GET', '/api/v1/health'), 200);
  assert.equal(version.version, health.version);
});

test('every answer carries a distinct X-Request-Id', async () => {
  const ids = [];
  for (const p of ['/api/v1/version', '/api/v1/version', '/api/v1/nope', '/api/v1/me']) {
    const id = (await api('GET', p)).headers.get('x-request-id');
    assert.ok(id && id.length >= 8, `X-Request-Id of ${p}: ${id}`);
    ids.push(id);
  }
  assert.equal(new Set(ids).size, ids.length, `ids are distinct: ${ids}`);
});

test('openapi.json is an OpenAPI 3.1 document naming every implemented route', async () => {
  const doc = expectStatus(await api('GET', '/api/v1/openapi.json'), 200);
  assert.match(doc.openapi, /^3\.1/);
  const paths = {};
  for (const [p, ops] of Object.entries(doc.paths || {})) paths[p.replace(/\{[^}]*\}/g, '{}')] = ops;
  const routes = [
    ['get', '/api/v1/health'], ['get', '/api/v1/version'], ['get', '/api/v1/openapi.json'],
    ['post', '/api/v1/auth/signup'], ['get', '/api/v1/auth/slug_available'], ['post', '/api/v1/auth/login'],
    ['post', '/api/v1/auth/refresh'], ['post', '/api/v1/auth/logout'], ['get', '/api/v1/auth/sessions'],
    ['delete', '/api/v1/auth/sessions/{}'], ['post', '/api/v1/auth/password'], ['get', '/api/v1/me'],
    ['get', '/api/v1/members'], ['post', '/api/v1/members/invite'], ['patch', '/api/v1/members/{}'],
    ['post', '/api/v1/invitations/lookup'], ['post', '/api/v1/invitations/accept'],
    ['post', '/api/v1/platform/auth/login'], ['post', '/api/v1/platform/auth/logout'],
    ['get', '/api/v1/platform/tenants'], ['get', '/api/v1/platform/tenants/{}'],
    ['post', '/api/v1/platform/tenants/{}/suspend'], ['post', '/api/v1/platform/tenants/{}/resume'],
    ['delete', '/api/v1/platform/tenants/{}'],
  ];
  const missing = routes.filter(([m, p]) => !paths[p]?.[m]).map(([m, p]) => `${m} ${p}`);
  assert.deepEqual(missing, [], 'routes missing from openapi.json');
});

test('an unknown path answers 404 not_found', async () => {
  assertError(await api('GET', '/api/v1/no-such-thing'), 404, 'not_found');
  assertError(await api('POST', '/api/v1/no-such-thing', { body: {} }), 404, 'not_found');
});

test('a known path with a wrong method answers 405 with Allow', async () => {
  for (const [method, p, allowed] of [
    ['DELETE', '/api/v1/health', 'GET'],
    ['POST', '/api/v1/me', 'GET'],
    ['GET', '/api/v1/auth/login', 'POST'],
    ['PUT', '/api/v1/members/1', 'PATCH'],
  ]) {
    const res = await api(method, p);
    assertError(res, 405, 'method_not_allowed');
    assert.match(res.headers.get('allow') || '', new RegExp(`\\b${allowed}\\b`), `Allow of ${method} ${p}`);
  }
});

test('a body over nginx\'s limit answers 413 in the error shape with a single X-Request-Id', async () => {
  const res = await api('POST', '/api/v1/auth/login', { raw: 'x'.repeat(3 * 1024 * 1024) });
  assertError(res, 413, 'payload_too_large');
  assert.match(res.headers.get('x-request-id') || '', /^[0-9a-f]+$/, 'one request id, not two joined');
});

test('a request nginx itself refuses (a NUL byte in the path, a header line with a NUL) answers 400 in the error shape', async () => {
  for (const p of ['/api/v1/rules/%00', '/api/v1/customers/1%00/claim', '/app/%00']) {
    assertError(await api('GET', p), 400, 'bad_request');
  }
  const { hostname, port } = new URL(BASE_URL);
  const answer = await new Promise((resolve, reject) => {
    const sock = net.connect({ host: hostname, port: Number(port) || 80 }, () => {
      sock.end('GET /api/v1/me HTTP/1.1\r\nHost: crm\r\nX-Bad: a\u0000b\r\nConnection: close\r\n\r\n');
    });
    let text = '';
    sock.setEncoding('utf8').on('data', (d) => { text += d; }).on('end', () => resolve(text)).on('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(answer, /content-type: application\/json/i);
  assert.match(answer, /\{"error":\{"code":"bad_request",/);
});

test('a query string that is not UTF-8 answers 400, not 500', async () => {
  assertError(await api('GET', '/api/v1/auth/slug_available?slug=%FF%FE'), 400, 'bad_request');
  assertError(await api('GET', '/api/v1/auth/slug_available?slug=a%00b'), 400, 'bad_request');
});
