// Failures of the parts around crm-api, on the real test stack: PostgreSQL and
// Redis going away and coming back, a worker killed, a reload (SIGHUP) and a
// graceful stop (SIGTERM) under traffic. These tests stop and restart
// services, so test.sh runs this suite alone, after the API suite; the tests
// in this file run one after another.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { api, assertError, expectStatus, loginOk, me, psql, signup } from '../api/lib.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const VAR = process.env.CRM_VAR || path.join(REPO, 'var', 'test');
const PROFILE = path.basename(VAR);
const RUN = path.join(VAR, 'run');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function sh(cmd, args) {
  return execFileSync(cmd, args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// Starts whatever of the test stack is not running (stack.sh start is idempotent).
function stackStart() {
  sh(path.join(REPO, 'scripts', 'stack.sh'), ['start', PROFILE]);
}

function apiPid() {
  return Number(readFileSync(path.join(RUN, 'crm-api.pid'), 'utf8').trim());
}

function workerPids() {
  const out = sh('ps', ['-o', 'pid=', '--ppid', String(apiPid())]);
  return out.split('\n').map((s) => Number(s.trim())).filter(Boolean);
}

async function waitFor(what, check, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// n calls of /me, all answered 200 (every worker, not only the first, is healthy).
async function allOk(token, n = 24) {
  const results = await Promise.all(Array.from({ length: n }, () => me(token)));
  for (const res of results) expectStatus(res, 200);
}

let owner;

test('setup: a tenant whose owner calls /me', async () => {
  owner = await signup();
  await allOk(owner.access_token);
});

test('PostgreSQL stopped: calls get 503 db_unavailable, health says db down; back up: they succeed without restarting crm-api', async () => {
  const pid = apiPid();
  sh('runuser', ['-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_ctl', '-D',
    path.join(VAR, 'pg'), '-m', 'fast', '-w', 'stop']);
  try {
    for (let i = 0; i < 10; i++) assertError(await me(owner.access_token), 503, 'db_unavailable');
    const health = await api('GET', '/api/v1/health');
    assert.equal(health.status, 503);
    assert.equal(health.json.db, 'down');
    assert.equal(health.json.redis, 'ok');
  } finally {
    stackStart();
  }
  await allOk(owner.access_token);
  assert.equal(apiPid(), pid, 'crm-api was not restarted');
  expectStatus(await api('GET', '/api/v1/health'), 200);
});

test('Redis stopped: calls get 503 redis_unavailable; back up: new logins and calls succeed', async () => {
  const pid = apiPid();
  sh('redis-cli', ['-s', path.join(RUN, 'redis.sock'), 'shutdown', 'nosave']);
  try {
    for (let i = 0; i < 10; i++) assertError(await me(owner.access_token), 503, 'redis_unavailable');
    const health = await api('GET', '/api/v1/health');
    assert.equal(health.status, 503);
    assert.equal(health.json.redis, 'down');
  } finally {
    stackStart();
  }
  // The test stack's Redis keeps no snapshot: sessions are gone, so sign in again.
  const fresh = await loginOk(owner.user.email, owner.password);
  await allOk(fresh.access_token);
  assert.equal(apiPid(), pid, 'crm-api was not restarted');
  owner = { ...owner, ...fresh };
});

test('a worker killed with SIGKILL is replaced and no call fails', async () => {
  const before = workerPids();
  assert.ok(before.length > 0, 'crm-api has workers');
  process.kill(before[0], 'SIGKILL');
  await allOk(owner.access_token, 48);
  await waitFor('the worker to be replaced', () => {
    const now = workerPids();
    return now.length === before.length && !now.includes(before[0]);
  });
});

test('crm-worker killed with SIGKILL in the middle of an import: the job is taken up again and every row lands exactly once', async () => {
  const rows = 1500;
  let csv = 'name,phone\n';
  for (let i = 0; i < rows; i++) csv += `断点续传${i}号,1360000${String(i).padStart(4, '0')}\n`;
  const res = await api('POST', '/api/v1/imports?object=customers', {
    token: owner.access_token, raw: csv, headers: { 'content-type': 'text/csv' },
  });
  const job = expectStatus(res, 202);
  const progress = async () => expectStatus(await api('GET', `/api/v1/imports/${job.id}`, { token: owner.access_token }), 200);
  await waitFor('the first batch', async () => (await progress()).processed_rows > 0, 30000);
  const pidFile = path.join(RUN, 'crm-worker.pid');
  process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
  const stopped = await progress();
  assert.notEqual(stopped.status, 'done', 'killed before the end');
  // The lease (60 s) would hand the job to another worker; end it now
  // instead of waiting, as time would.
  const expire = await psql(`UPDATE public.jobs SET locked_until = now() - interval '1 second' WHERE kind = 'import' AND ref_id = ${job.id} AND status = 'running'`);
  assert.equal(expire.code, 0, expire.stderr);
  stackStart();
  await waitFor('the import to finish', async () => (await progress()).status === 'done', 60000);
  const done = await progress();
  assert.equal(done.processed_rows, rows);
  assert.equal(done.created, rows, 'every row is counted once');
  assert.equal(done.failed, 0);
  const count = await psql(`SELECT count(*), count(DISTINCT name) FROM t_${owner.tenant.id}.customers WHERE name LIKE '断点续传%'`);
  assert.equal(count.stdout.trim(), `${rows}|${rows}`, 'each row created once');
});

test('SIGHUP replaces every worker while calls keep succeeding', async () => {
  const pid = apiPid();
  const before = workerPids();
  const traffic = Promise.all(Array.from({ length: 60 }, async (_, i) => {
    await sleep(i * 5);
    return me(owner.access_token);
  }));
  await sleep(50);
  process.kill(pid, 'SIGHUP');
  for (const res of await traffic) expectStatus(res, 200);
  await waitFor('new workers', () => {
    const now = workerPids();
    return now.length === before.length && now.every((p) => !before.includes(p));
  });
  assert.equal(apiPid(), pid, 'the supervisor keeps its pid across a reload');
  await allOk(owner.access_token);
});

test('SIGTERM lets a request in flight finish, then crm-api exits', async () => {
  const pid = apiPid();
  // A sign-up takes a while (Argon2id and provisioning): it is in flight when the signal lands.
  const inFlight = signup();
  await sleep(30);
  process.kill(pid, 'SIGTERM');
  const created = await inFlight;
  assert.ok(created.access_token, 'the sign-up in flight was answered');
  await waitFor('crm-api to exit', () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
  stackStart();
  await allOk(owner.access_token);
});
