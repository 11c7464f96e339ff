// Failures of the parts around crm-api, on the real test stack: PostgreSQL and
// Redis going away and coming back, a worker killed, a reload (SIGHUP) and a
// graceful stop (SIGTERM) under traffic; then the same faults in the middle
// of automation work (crm-worker killed, Redis flushed, PostgreSQL
// restarted), after which every rule effect and timer has happened exactly
// once. These tests stop and restart services, so test.sh runs this suite
// alone, after the API suite; the tests in this file run one after another.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  addMember, api, assertError, expectStatus, loginOk, me, psql, secret, signup, sql,
} from '../api/lib.mjs';

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

// A worker may die just after it accepted one of the calls: nginx asks again
// (nginx.conf.tmpl), so none fails. Killed several times, since that moment
// is short.
test('workers killed with SIGKILL are replaced and no call fails', async () => {
  for (let round = 0; round < 4; round++) {
    const before = workerPids();
    assert.ok(before.length > 0, 'crm-api has workers');
    const victim = before[round % before.length];
    process.kill(victim, 'SIGKILL');
    await allOk(owner.access_token, 48);
    await waitFor('the worker to be replaced', () => {
      const now = workerPids();
      return now.length === before.length && !now.includes(victim);
    });
  }
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
  // Idle, a reload's old workers leave at once: none waits for one more call.
  const idle = workerPids();
  process.kill(pid, 'SIGHUP');
  await waitFor('the idle old workers to leave', () => !workerPids().some((p) => idle.includes(p)), 3000);
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
  // within 3 s: the idle workers leave on the signal, none waits to be killed
  await waitFor('crm-api to exit', () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, 3000);
  stackStart();
  await allOk(owner.access_token);
});

/* ---------- automation under faults ----------
 * Each test takes a fresh workspace (owner + two sales members: the starter
 * rule lead_assignment hands each lead without owner round robin to them
 * and notifies the assignee; tasks.reminder_minutes is 0, so a task's
 * reminder timer is due at its due time), queues a few hundred effects in
 * one transaction, and makes crm-worker stop in the middle of them: a
 * "blocker" psql session holds a row the worker needs, so the worker is
 * known to be inside a batch (some batches committed, one in flight) when
 * the fault strikes. Then every effect must have happened exactly once. */

const WORKER_PID_FILE = path.join(RUN, 'crm-worker.pid');
const workerPid = () => Number(readFileSync(WORKER_PID_FILE, 'utf8').trim());

// Alive, not a zombie (the worker's parent is init, which may be slow to reap).
function alive(pid) {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const num = (rows) => rows[0].map(Number);

// SQL that enters the workspace's context as crm-api does for its owner
// (the record engine reads crm.role and crm.user_id), inside a transaction.
const ctx = (w) => `SET LOCAL ROLE crm_t_${w.tid}; SET LOCAL search_path = t_${w.tid};
  SELECT set_config('crm.tenant_id', '${w.tid}', true), set_config('crm.role', 'owner', true),
    set_config('crm.user_id', '${w.owner.user.id}', true);`;

// n leads without owner (lead_assignment gives each to a sales member).
const leadsSql = (n, prefix) => `SELECT count(record_create('leads', jsonb_build_object(
  'name', '${prefix} ' || i, 'owner_id', NULL))) FROM generate_series(1, ${n}) i;`;

// n open tasks due `secs` from now, assigned in turn to the two sales members.
const tasksSql = (w, n, secs) => `SELECT count(record_create('tasks', jsonb_build_object(
  'subject', '到期提醒 ' || i, 'due_at', to_jsonb(now() + interval '${secs} seconds'),
  'assignee_id', (ARRAY[${w.sales[0].member.id}, ${w.sales[1].member.id}])[1 + i % 2])))
  FROM generate_series(1, ${n}) i;`;

async function outboxDrained(w) {
  const [pending] = num(await sql(`SELECT count(*) FROM t_${w.tid}.outbox WHERE processed_at IS NULL`));
  return pending === 0;
}

async function automationWorkspace() {
  const owner = await signup();
  const w = { owner, tid: owner.tenant.id, sales: [] };
  w.sales.push(await addMember(owner.access_token, { role: 'sales', name: '销售甲' }));
  w.sales.push(await addMember(owner.access_token, { role: 'sales', name: '销售乙' }));
  await sql(`UPDATE t_${w.tid}.settings SET value = '0' WHERE key = 'tasks.reminder_minutes'`);
  // what signing up queued is handled, so the batches below hold only our events
  await waitFor('the sign-up events handled', () => outboxDrained(w), 30000);
  return w;
}

// The lead effects of a workspace: counts that must all equal the leads'.
async function leadEffects(w) {
  const t = `t_${w.tid}`;
  const [leads, owned, assigned, assignedLeads, seen, runs, runLeads, pending] = num(await sql(`SELECT
    (SELECT count(*) FROM ${t}.leads),
    (SELECT count(*) FROM ${t}.leads WHERE owner_id IS NOT NULL),
    (SELECT count(*) FROM ${t}.notifications WHERE kind = 'assigned'),
    (SELECT count(DISTINCT record_id) FROM ${t}.notifications WHERE kind = 'assigned'),
    (SELECT count(*) FROM ${t}.leads l JOIN ${t}.notifications n ON n.kind = 'assigned'
      AND n.object = 'leads' AND n.record_id = l.id AND n.member_id = l.owner_id),
    (SELECT count(*) FROM ${t}.rule_runs r JOIN ${t}.rules u ON u.id = r.rule_id
      WHERE u.key = 'lead_assignment' AND r.status = 'done'),
    (SELECT count(DISTINCT r.record_id) FROM ${t}.rule_runs r JOIN ${t}.rules u ON u.id = r.rule_id
      WHERE u.key = 'lead_assignment'),
    (SELECT count(*) FROM ${t}.outbox WHERE processed_at IS NULL)`));
  return { leads, owned, assigned, assignedLeads, seen, runs, runLeads, pending };
}

async function assertLeadsOnce(w, n) {
  await waitFor(`all ${n} leads assigned`, async () => {
    const e = await leadEffects(w);
    return e.owned === n && e.assigned >= n && e.runs >= n && e.pending === 0;
  }, 30000);
  assert.deepEqual(await leadEffects(w), {
    leads: n, owned: n, assigned: n, assignedLeads: n, seen: n, runs: n, runLeads: n, pending: 0,
  }, 'each lead: one owner, one `assigned` notification to that owner, one run of lead_assignment');
  // The round-robin turn is kept in the rule, in the same transactions:
  // a batch undone and done again leaves the turns even.
  const split = (await sql(`SELECT count(*) FROM t_${w.tid}.leads GROUP BY owner_id ORDER BY owner_id`)).map(Number);
  assert.deepEqual(split, [n / 2, n / 2], 'round robin between the two sales members');
}

// The task reminders of a workspace: counts that must all equal the tasks'.
async function reminderEffects(w) {
  const t = `t_${w.tid}`;
  const [tasks, reminders, remindedTasks, toAssignee, timersLeft] = num(await sql(`SELECT
    (SELECT count(*) FROM ${t}.tasks),
    (SELECT count(*) FROM ${t}.notifications WHERE kind = 'task_due'),
    (SELECT count(DISTINCT record_id) FROM ${t}.notifications WHERE kind = 'task_due'),
    (SELECT count(*) FROM ${t}.tasks k JOIN ${t}.notifications n ON n.kind = 'task_due'
      AND n.record_id = k.id AND n.member_id = k.assignee_id),
    (SELECT count(*) FROM public.jobs WHERE tenant_id = ${w.tid} AND kind = 'timer' AND status <> 'done')`));
  return { tasks, reminders, remindedTasks, toAssignee, timersLeft };
}

async function assertRemindersOnce(w, n) {
  await waitFor(`all ${n} task reminders`, async () => {
    const e = await reminderEffects(w);
    return e.reminders >= n && e.timersLeft === 0;
  }, 30000);
  assert.deepEqual(await reminderEffects(w), { tasks: n, reminders: n, remindedTasks: n, toAssignee: n, timersLeft: 0 },
    'each task: one reminder, to its assignee; every timer job done');
}

// A psql session (as crm_api) kept open to hold a lock that crm-worker runs
// into. Only the process started here is ever stopped.
function blocker() {
  const child = spawn('psql', ['-h', process.env.CRM_PG_HOST || RUN, '-p', process.env.CRM_PG_PORT || '15432',
    '-U', 'crm_api', '-d', 'crm', '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1'], {
    env: { ...process.env, PGPASSWORD: secret('pg_api.pw'), PGAPPNAME: 'crm-faults-blocker', PGCONNECT_TIMEOUT: '5' },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdin.on('error', () => {}); // psql may be gone when PostgreSQL stopped
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    send(text) { child.stdin.write(`${text}\n`); },
    // Waits until the session sits in an open transaction after a statement like `like`.
    async holds(like) {
      await waitFor('the blocker to hold its lock', async () => {
        if (child.exitCode !== null) assert.fail(`the blocker exited: ${stderr}`);
        const rows = await sql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'crm-faults-blocker'
          AND state = 'idle in transaction' AND query LIKE '${like}'`);
        return num(rows)[0] === 1;
      }, 30000);
    },
    async end() {
      if (child.exitCode === null) child.stdin.end();
      if (await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

// The worker's backend waiting on a lock inside `fn` (automation_events or timers_fire).
async function workerBlockedIn(fn) {
  let pid;
  await waitFor(`crm-worker to wait on the blocker in ${fn}`, async () => {
    const rows = await sql(`SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'
      AND query LIKE '%${fn}(%' AND pid <> pg_backend_pid()`);
    pid = rows.length === 1 ? Number(rows[0][0]) : undefined;
    return pid !== undefined;
  }, 30000);
  return pid;
}

// Queues `leads` leads (after `tasks` tasks due in `due` s) in one transaction,
// then holds lead number `hold` in the blocker: the worker commits the first
// batch of events (200) and stops inside the second.
async function queueAndBlock(w, { leads, tasks = 0, due = 3, hold }) {
  assert.ok(tasks + hold > 200 && hold <= leads, 'the held lead is in the second batch');
  const b = blocker();
  b.send(`BEGIN; ${ctx(w)} ${tasks ? tasksSql(w, tasks, due) : ''} ${leadsSql(leads, '故障线索')} COMMIT;
    BEGIN; SET LOCAL ROLE crm_t_${w.tid};
    SELECT id FROM t_${w.tid}.leads WHERE id = (SELECT id FROM t_${w.tid}.leads ORDER BY id OFFSET ${hold - 1} LIMIT 1)
      FOR UPDATE;`); // (FOR UPDATE beside OFFSET would lock the rows skipped too)
  try {
    await b.holds('%FOR UPDATE%');
    const backend = await workerBlockedIn('automation_events');
    const e = await leadEffects(w);
    assert.ok(e.owned > 0 && e.owned < leads, `the worker is in the middle: ${e.owned} of ${leads} leads assigned`);
    return { b, backend };
  } catch (err) {
    await b.end();
    throw err;
  }
}

// A killed worker's running jobs are taken up again when their lease (60 s)
// runs out; end the leases now instead of waiting, as time would: what is
// tested is that nothing is lost or done twice, not the lease's length.
async function expireLeases(w) {
  const res = await psql(`UPDATE public.jobs SET locked_until = now() - interval '1 second'
    WHERE tenant_id = ${w.tid} AND status = 'running'`);
  assert.equal(res.code, 0, res.stderr);
}

async function runningJobs(w, kind) {
  return num(await sql(`SELECT count(*) FROM public.jobs WHERE tenant_id = ${w.tid} AND kind = '${kind}'
    AND status = 'running' AND locked_until > now()`))[0];
}

function killWorker() {
  const pid = workerPid();
  process.kill(pid, 'SIGKILL');
  return pid;
}

test('crm-worker killed with SIGKILL in the middle of rule work: every lead is assigned and notified exactly once', async () => {
  const w = await automationWorkspace();
  const n = 300;
  const { b } = await queueAndBlock(w, { leads: n, hold: 250 });
  let pid;
  try {
    assert.equal(await runningJobs(w, 'events'), 1, 'the worker holds the events job');
    pid = killWorker();
    await waitFor('crm-worker to die', () => !alive(pid));
  } finally {
    // The killed worker's backend goes on once the lock is free; its batch
    // may still commit (the COMMIT was sent with it) while the job is not
    // marked done: taking the job up again must then add nothing.
    await b.end();
  }
  await expireLeases(w);
  stackStart();
  assert.notEqual(workerPid(), pid, 'a new crm-worker');
  await assertLeadsOnce(w, n);
});

test('crm-worker killed with SIGKILL in the middle of a batch of timers: every task reminder comes exactly once', async () => {
  const w = await automationWorkspace();
  const n = 400;
  // Timers are claimed 250 at a time (JOB_BATCH) in run_at, id order (here:
  // task order): the 320th task's is in the second batch. The blocker writes that
  // reminder first (uncommitted, the key as automation_schedule makes it),
  // so the worker's insert of the same notification waits inside the batch.
  const b = blocker();
  let pid;
  try {
    b.send(`BEGIN; ${ctx(w)} ${tasksSql(w, n, 8)} COMMIT;
      BEGIN; SET LOCAL ROLE crm_t_${w.tid};
      INSERT INTO t_${w.tid}.notifications (member_id, kind, title, object, record_id, key)
      SELECT assignee_id, 'task_due', 'blocker', 'tasks', id, format('task_due:%s:%s', id, extract(epoch FROM due_at))
      FROM t_${w.tid}.tasks WHERE id = (SELECT id FROM t_${w.tid}.tasks ORDER BY id OFFSET 319 LIMIT 1);`);
    await b.holds('%INSERT INTO%notifications%');
    const backend = await workerBlockedIn('timers_fire');
    const e = await reminderEffects(w);
    assert.ok(e.reminders > 0 && e.reminders < n, `the worker is in the middle: ${e.reminders} of ${n} reminders`);
    assert.ok(await runningJobs(w, 'timer') > 0, 'the worker holds timer jobs');
    pid = killWorker();
    await waitFor('crm-worker to die', () => !alive(pid));
    // This time the batch in flight is undone: end the killed worker's
    // backend before the lock is free.
    const end = await psql(`SELECT pg_terminate_backend(${backend})`);
    assert.equal(end.code, 0, end.stderr);
  } finally {
    b.send('ROLLBACK;');
    await b.end();
  }
  await expireLeases(w);
  stackStart();
  assert.notEqual(workerPid(), pid, 'a new crm-worker');
  await assertRemindersOnce(w, n);
});

test('Redis flushed (FLUSHALL) in the middle of rule work: timers and rule effects all happen once; sessions are gone, log in again', async () => {
  const w = await automationWorkspace();
  const pid = workerPid();
  const leads = 200;
  const tasks = 40;
  const { b } = await queueAndBlock(w, { leads, tasks, due: 3, hold: 180 });
  try {
    assert.equal(sh('redis-cli', ['-s', path.join(RUN, 'redis.sock'), 'FLUSHALL']).trim(), 'OK');
  } finally {
    b.send('ROLLBACK;');
    await b.end();
  }
  assertError(await me(w.owner.access_token), 401, 'unauthorized');
  await assertLeadsOnce(w, leads);
  await assertRemindersOnce(w, tasks);
  assert.equal(workerPid(), pid, 'the same crm-worker went on');
  // what a member sees through the API after logging in again
  const seller = w.sales[0];
  const fresh = await loginOk(seller.email, seller.password);
  const list = expectStatus(await api('GET', '/api/v1/notifications?limit=200', { token: fresh.access_token }), 200);
  assert.equal(list.data.filter((x) => x.kind === 'assigned').length, leads / 2);
  assert.equal(list.data.filter((x) => x.kind === 'task_due').length, tasks / 2);
});

test('PostgreSQL restarted in the middle of rule work: crm-worker reconnects and goes on; effects queued before and after happen once', async () => {
  const w = await automationWorkspace();
  const pid = workerPid();
  const { b } = await queueAndBlock(w, { leads: 200, tasks: 40, due: 3, hold: 180 });
  try {
    sh('runuser', ['-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_ctl', '-D',
      path.join(VAR, 'pg'), '-m', 'fast', '-w', 'stop']);
    await sleep(1500); // the worker finds the database gone
  } finally {
    await b.end();
    stackStart();
  }
  assert.equal(workerPid(), pid, 'crm-worker was not restarted');
  // More effects after the restart, through the API; the events job the
  // worker held when PostgreSQL went away keeps its lease, the tenant's new
  // events job takes up every pending event (no lease is expired here).
  const token = w.owner.access_token;
  const due = new Date(Date.now() + 2000).toISOString();
  for (let i = 0; i < 20; i++) {
    expectStatus(await api('POST', '/api/v1/leads', { token, body: { name: `重启后线索 ${i}`, owner_id: null } }), 201);
  }
  for (let i = 0; i < 10; i++) {
    expectStatus(await api('POST', '/api/v1/tasks', { token, body: {
      subject: `重启后任务 ${i}`, due_at: due, assignee_id: w.sales[i % 2].member.id } }), 201);
  }
  await assertLeadsOnce(w, 220);
  await assertRemindersOnce(w, 50);
});
