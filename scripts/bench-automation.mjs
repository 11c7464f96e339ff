#!/usr/bin/env node
// scripts/bench-automation.mjs — the automation figures, against a running
// stack (scripts/bench.sh runs it on the bench stack; by hand:
//   eval "$(scripts/stack.sh env bench)" && node scripts/bench-automation.mjs
// ). It works in a workspace of its own, slug `bench-auto` (its owner and two
// sales members; the password is kept in var/<profile>/secrets/bench-auto.pw),
// whose records, notifications and jobs it clears before it starts and after
// it ends. Three measurements, one after the other:
//
//   lead_to_owner  POST /api/v1/leads with owner_id null, one lead after the
//                  other (--leads, 100): the starter rule lead_assignment
//                  gives it round robin to a sales member, and the time is
//                  taken until that member's GET /api/v1/notifications
//                  (both members polled every --poll-ms, 25) shows the
//                  `assigned` notification. Also the same path on the server
//                  alone: notification created_at - lead created_at.
//                  Target: p50 <= 1 s.
//   rule_eval      the time automation_event() spends on one outbox event,
//                  taken in SQL with clock_timestamp() around each call, over
//                  a few thousand events (leads, customers, activities,
//                  opportunities moved to a stage, and the events the rules'
//                  own changes make), with the starter rules and five custom
//                  rules with conditions; in one transaction of the
//                  workspace, rolled back at the end (the worker never sees
//                  these events). Median, p90, p99, and by event.
//   timers         --timers (10,000) tasks whose reminders are all due on the
//                  same second (--spread second; --spread minute spreads them
//                  over the minute), the first whole minute at least 90 s
//                  ahead: created through the record engine in SQL (1,000 per
//                  transaction), their timers set by crm-worker from the
//                  task.created events. Lateness of each reminder against its
//                  timer's run_at (public.jobs): "fired" = the notification's
//                  created_at (the start of the worker's transaction that
//                  fired it), "done" = the job marked done (after that
//                  transaction committed). Target: all within 5 s.
//                  Floor beside it: the same 10,000 notifications written
//                  bare (one INSERT of 250 rows per transaction, as the
//                  worker's batches), without jobs, rules or checks; the
//                  worker's timers/s is quoted as a ratio to it.
//
// Prints a summary; --out FILE writes the figures as JSON, --results FILE
// adds them to that JSON file (scripts/bench.sh's latest.json) under
// "automation"; --keep leaves the workspace's records and jobs for a look
// (the next run clears them). --only lead_to_owner,rule_eval,timers picks
// measurements. Percentiles are nearest-rank. Environment: what
// `scripts/stack.sh env <profile>` exports (CRM_BASE_URL, CRM_VAR,
// CRM_PG_HOST, CRM_PG_PORT); CRM_BENCH_AUTOMATION_TIMERS and
// CRM_BENCH_AUTOMATION_LEADS give the defaults of --timers and --leads.
// Exit status 1 when a measurement could not be made (a missed target is
// reported, not an error).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const SLUG = 'bench-auto';
const OWNER_EMAIL = 'bench-auto-owner@example.com';
const SALES_EMAILS = ['bench-auto-sales-1@example.com', 'bench-auto-sales-2@example.com'];

/* ---------- options ---------- */

function options(argv) {
  const o = {
    base: process.env.CRM_BASE_URL || 'http://127.0.0.1:28080',
    var: process.env.CRM_VAR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'var', 'bench'),
    timers: Number(process.env.CRM_BENCH_AUTOMATION_TIMERS || 10000),
    leads: Number(process.env.CRM_BENCH_AUTOMATION_LEADS || 100),
    pollMs: 25,
    spread: 'second',
    ruleLeads: 1000,
    only: ['lead_to_owner', 'rule_eval', 'timers'],
    out: null,
    results: null,
    keep: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--base') o.base = v();
    else if (a === '--var') o.var = v();
    else if (a === '--timers') o.timers = Number(v());
    else if (a === '--leads') o.leads = Number(v());
    else if (a === '--poll-ms') o.pollMs = Number(v());
    else if (a === '--spread') o.spread = v();
    else if (a === '--rule-leads') o.ruleLeads = Number(v());
    else if (a === '--only') o.only = v().split(',');
    else if (a === '--out') o.out = v();
    else if (a === '--results') o.results = v();
    else if (a === '--keep') o.keep = true;
    else throw new Error(`unknown argument ${a} (see the head of this file)`);
  }
  for (const k of ['timers', 'leads', 'pollMs', 'ruleLeads']) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`--${k} must be a positive whole number`);
  }
  if (!['second', 'minute'].includes(o.spread)) throw new Error('--spread is second or minute');
  o.base = o.base.replace(/\/+$/, '');
  return o;
}

const opt = options(process.argv.slice(2));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (s = '') => console.log(s);

/* ---------- HTTP and SQL ---------- */

async function api(method, p, { token, body } = {}) {
  const headers = { 'user-agent': 'crm-bench/1 (automation)' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(opt.base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.status, json, text };
}

async function expect(res, status, what) {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${res.text.slice(0, 300)}`);
  return res.json;
}

// psql as crm_api (the password from the stack's secrets, in the environment);
// answers the rows of bare output, each split on '|'.
function sql(text) {
  const args = ['-h', process.env.CRM_PG_HOST || path.join(opt.var, 'run'), '-p', process.env.CRM_PG_PORT || '25432',
    '-U', 'crm_api', '-d', 'crm', '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-f', '-'];
  const env = { ...process.env, PGPASSWORD: fs.readFileSync(path.join(opt.var, 'secrets', 'pg_api.pw'), 'utf8').trim(),
    PGAPPNAME: 'crm-bench-automation', PGCONNECT_TIMEOUT: '10' };
  return new Promise((resolve, reject) => {
    const child = spawn('psql', args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`psql failed (${code}): ${err.slice(0, 2000)}`));
      else resolve(out.split('\n').filter(Boolean).map((l) => l.split('|')));
    });
    child.stdin.end(text);
  });
}

const one = async (text) => (await sql(text))[0]?.[0];

/* ---------- figures ---------- */

// Nearest-rank percentiles of a list of numbers.
function stats(values) {
  const v = [...values].sort((a, b) => a - b);
  const rank = (p) => (v.length ? v[Math.max(1, Math.ceil(p * v.length)) - 1] : null);
  const r3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
  return { n: v.length, p50_ms: r3(rank(0.5)), p90_ms: r3(rank(0.9)), p99_ms: r3(rank(0.99)), max_ms: r3(v.at(-1) ?? null),
    min_ms: r3(v[0] ?? null) };
}

const ms = (x) => (x === null || x === undefined ? 'n/a' : `${x.toFixed(1)} ms`);

/* ---------- the workspace ---------- */

function password() {
  const file = path.join(opt.var, 'secrets', 'bench-auto.pw');
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
  }
  return fs.readFileSync(file, 'utf8').trim();
}

async function login(email, pw) {
  return expect(await api('POST', '/api/v1/auth/login', { body: { email, password: pw } }), 200, `login ${email}`);
}

// The workspace, its owner and two sales members, each logged in.
async function workspace() {
  const pw = password();
  let tid = await one(`SELECT id FROM public.tenants WHERE slug = '${SLUG}'`);
  if (!tid) {
    await expect(await api('POST', '/api/v1/auth/signup', { body: {
      company: '自动化压测有限公司', slug: SLUG, name: '自动化压测', email: OWNER_EMAIL, password: pw } }), 201, 'signup');
    tid = await one(`SELECT id FROM public.tenants WHERE slug = '${SLUG}'`);
  }
  const owner = await login(OWNER_EMAIL, pw);
  const members = (await expect(await api('GET', '/api/v1/members', { token: owner.access_token }), 200, 'members')).data;
  const sales = [];
  for (const [i, email] of SALES_EMAILS.entries()) {
    if (!members.some((m) => m.email === email)) {
      const inv = await expect(await api('POST', '/api/v1/members/invite', { token: owner.access_token,
        body: { email, name: `压测销售${i + 1}`, role: 'sales' } }), 201, 'invite');
      await expect(await api('POST', '/api/v1/invitations/accept', { body: { token: inv.invite_token, password: pw } }),
        200, 'accept');
    }
    const s = await login(email, pw);
    const me = await expect(await api('GET', '/api/v1/me', { token: s.access_token }), 200, 'me');
    sales.push({ email, token: s.access_token, member: me.member?.id
      ?? (await expect(await api('GET', '/api/v1/members', { token: owner.access_token }), 200, 'members'))
        .data.find((m) => m.email === email).id });
  }
  const reminder = Number(await one(`SELECT coalesce((SELECT value #>> '{}' FROM t_${Number(tid)}.settings
    WHERE key = 'tasks.reminder_minutes'), '15')`));
  return { tid: Number(tid), owner, ownerUser: owner.user.id, sales, reminder };
}

// Clears what earlier runs left: records, notifications, rule runs, custom
// rules, the round-robin turn and the workspace's finished or queued jobs.
async function reset(w) {
  const t = `t_${w.tid}`;
  await sql(`BEGIN; SET LOCAL ROLE crm_t_${w.tid};
    TRUNCATE ${t}.notifications, ${t}.rule_runs, ${t}.tasks, ${t}.activities, ${t}.opportunities, ${t}.contacts,
      ${t}.leads, ${t}.customers, ${t}.outbox, ${t}.audit_log CASCADE;
    DELETE FROM ${t}.rules WHERE key IS NULL;
    UPDATE ${t}.rules SET state = '{}' WHERE state <> '{}';
    COMMIT;
    DELETE FROM public.jobs WHERE tenant_id = ${w.tid} AND status <> 'running';`);
}

// Waits (up to `seconds`) until no job of any tenant is due and waiting:
// each measurement starts with an idle worker. Answers how many were left.
async function workerIdle(seconds = 120) {
  const end = Date.now() + seconds * 1000;
  let left;
  do {
    left = Number(await one(`SELECT count(*) FROM public.jobs WHERE run_at <= now()
      AND (status = 'queued' OR (status = 'running' AND locked_until > now()))`));
    if (left === 0) return 0;
    await sleep(500);
  } while (Date.now() < end);
  return left;
}

const ctx = (w) => `SET LOCAL ROLE crm_t_${w.tid}; SET LOCAL search_path = t_${w.tid};
  SELECT set_config('crm.tenant_id', '${w.tid}', true), set_config('crm.role', 'owner', true),
    set_config('crm.user_id', '${w.ownerUser}', true);`;

/* ---------- lead to owner ---------- */

async function leadToOwner(w) {
  say(`== lead_to_owner: ${opt.leads} leads one after the other, POST /api/v1/leads (owner_id null) until the `
    + `assignee's GET /api/v1/notifications shows it (both sales members polled every ${opt.pollMs} ms)`);
  const stamp = Date.now().toString(36);
  const seenMs = [];
  const postMs = [];
  const perMember = [0, 0];
  let missed = 0;
  const ids = [];
  for (let i = 0; i < opt.leads; i++) {
    const t0 = performance.now();
    const lead = await expect(await api('POST', '/api/v1/leads', { token: w.owner.access_token,
      body: { name: `延迟线索 ${stamp}-${i}`, owner_id: null } }), 201, 'POST /api/v1/leads');
    postMs.push(performance.now() - t0);
    ids.push(lead.id);
    let seen = -1;
    while (seen < 0 && performance.now() - t0 < 30000) {
      const polls = await Promise.all(w.sales.map((s) => api('GET', '/api/v1/notifications?limit=10&unread=true',
        { token: s.token })));
      polls.forEach((p, k) => {
        if (p.status === 200 && p.json.data.some((n) => n.kind === 'assigned' && n.record_id === lead.id)) seen = k;
      });
      if (seen < 0) await sleep(opt.pollMs);
    }
    if (seen < 0) missed++;
    else {
      seenMs.push(performance.now() - t0);
      perMember[seen]++;
    }
  }
  // the same path on the server: the worker's transaction that wrote the
  // notification began this long after the API's that created the lead
  const server = (await sql(`SELECT extract(epoch FROM n.created_at - l.created_at) * 1000
    FROM t_${w.tid}.leads l JOIN t_${w.tid}.notifications n ON n.kind = 'assigned' AND n.object = 'leads'
      AND n.record_id = l.id WHERE l.id IN (${ids.join(',')})`)).map((r) => Number(r[0]));
  const seenS = stats(seenMs);
  const res = { leads: opt.leads, poll_ms: opt.pollMs, ...seenS, missed, per_member: perMember,
    post: stats(postMs), server: stats(server), target_p50_ms: 1000 };
  say(`  seen by the assignee: p50 ${ms(seenS.p50_ms)}, p90 ${ms(seenS.p90_ms)}, p99 ${ms(seenS.p99_ms)}, `
    + `max ${ms(seenS.max_ms)}; ${missed} missed; per member ${perMember.join('/')}`);
  say(`  the POST alone: p50 ${ms(res.post.p50_ms)}; on the server (lead created_at -> notification created_at): `
    + `p50 ${ms(res.server.p50_ms)}, p99 ${ms(res.server.p99_ms)}`);
  return res;
}

/* ---------- rule evaluation per event ---------- */

const CUSTOM_RULES = [
  { name: '制造业重点客户', object: 'customers', trigger: { type: 'created' },
    conditions: { all: [{ field: 'industry', op: 'eq', value: '制造业' }, { field: 'level', op: 'in', value: ['A', 'B'] }] },
    actions: [{ type: 'add_tag', tag: '重点客户' }, { type: 'notify', to: 'owner', title: '重点客户 {{name}}' }] },
  { name: '重点客户变更提醒', object: 'customers', trigger: { type: 'updated' },
    conditions: { any: [{ field: 'tags', op: 'contains', value: '重点客户' }, { field: 'name', op: 'contains', value: '集团' }] },
    actions: [{ type: 'notify', to: { role: 'owner' }, title: '客户变更 {{name}}' }] },
  { name: '高分线索打标签', object: 'leads', trigger: { type: 'field_changed', field: 'score' },
    conditions: { all: [{ field: 'score', op: 'gte', value: 15 }, { field: 'status', op: 'in', value: ['new', 'working'] }] },
    actions: [{ type: 'add_tag', tag: '高分线索' }] },
  { name: '官网或有电话的线索', object: 'leads', trigger: { type: 'created' },
    conditions: { any: [{ field: 'source', op: 'eq', value: '官网' }, { all: [{ field: 'phone', op: 'empty', value: false },
      { field: 'region', op: 'ne', value: '海外' }] }] },
    actions: [{ type: 'notify', to: { role: 'owner' }, title: '新线索 {{name}}' }] },
  { name: '大额商机建跟进任务', object: 'opportunities', trigger: { type: 'created' },
    conditions: { all: [{ field: 'amount', op: 'gt', value: 100000 }] },
    actions: [{ type: 'create_task', subject: '跟进大额商机 {{name}}', due_in_hours: 24 }] },
];

const lit = (v) => `'${JSON.stringify(v).replaceAll("'", "''")}'::jsonb`;

async function ruleEval(w) {
  const n = opt.ruleLeads;
  const [nc, na, no] = [Math.round(n / 2), Math.round(n / 2), Math.round(n / 5)];
  say('');
  say(`== rule_eval: automation_event() per event, timed in SQL (clock_timestamp around each call), over the events of `
    + `${n} leads, ${nc} customers, ${na} activities on leads, ${no} opportunities created and moved to 方案报价, and `
    + 'the events their rules make; starter rules + 5 custom rules with conditions; one transaction, rolled back');
  const text = `BEGIN;
${ctx(w)}
${CUSTOM_RULES.map((r) => `SELECT rule_save(NULL, ${lit(r)}) IS NOT NULL;`).join('\n')}
SELECT count(record_create('leads', jsonb_build_object('name', '规则线索 ' || i, 'owner_id', NULL,
  'source', CASE WHEN i % 5 = 0 THEN '官网' ELSE '展会' END, 'region', CASE WHEN i % 7 = 0 THEN '海外' ELSE '华东' END)
  || CASE WHEN i % 3 = 0 THEN jsonb_build_object('phone', '138' || lpad(i::text, 8, '0')) ELSE '{}' END))
  FROM generate_series(1, ${n}) i;
SELECT count(record_create('customers', jsonb_build_object('name', '规则客户 ' || i || CASE WHEN i % 10 = 0 THEN ' 集团' ELSE '' END,
  'industry', (ARRAY['制造业', '零售', '金融', '教育'])[1 + i % 4], 'level', (ARRAY['A', 'B', 'C'])[1 + i % 3], 'force', true)))
  FROM generate_series(1, ${nc}) i;
SELECT count(record_create('activities', jsonb_build_object('kind', 'call', 'subject', '电话跟进', 'lead_id', l.id)))
  FROM (SELECT id FROM leads ORDER BY id LIMIT ${na}) l;
SELECT count(record_create('opportunities', jsonb_build_object('name', '规则商机 ' || c.id, 'customer_id', c.id,
  'amount', CASE WHEN c.id % 2 = 0 THEN 250000 ELSE 30000 END)))
  FROM (SELECT id FROM customers ORDER BY id LIMIT ${no}) c;
SELECT count(record_update('opportunities', o.id, o.version, jsonb_build_object('stage_id',
  (SELECT s.id FROM pipeline_stages s JOIN pipelines p ON p.id = s.pipeline_id WHERE p.is_default AND s.name = '方案报价'))))
  FROM (SELECT id, version FROM opportunities ORDER BY id) o;
-- from here on, as crm-worker runs it: no user, no role
SELECT set_config('crm.role', '', true), set_config('crm.user_id', '', true);
DO $$
DECLARE
  e outbox;
  t0 timestamptz;
  took float8[] := '{}';
  kinds text[] := '{}';
  res jsonb;
  started timestamptz := clock_timestamp();
BEGIN
  LOOP
    SELECT * INTO e FROM outbox WHERE processed_at IS NULL ORDER BY id LIMIT 1;
    EXIT WHEN e.id IS NULL;
    t0 := clock_timestamp();
    PERFORM automation_event(e);
    took := took || (extract(epoch FROM clock_timestamp() - t0) * 1000)::float8;
    kinds := kinds || e.event;
    UPDATE outbox SET processed_at = now() WHERE id = e.id;
  END LOOP;
  SELECT jsonb_build_object('events', count(*), 'p50_ms', percentile_disc(0.5) WITHIN GROUP (ORDER BY m),
    'p90_ms', percentile_disc(0.9) WITHIN GROUP (ORDER BY m), 'p99_ms', percentile_disc(0.99) WITHIN GROUP (ORDER BY m),
    'max_ms', max(m), 'mean_ms', avg(m), 'sum_s', sum(m) / 1000,
    'wall_s', extract(epoch FROM clock_timestamp() - started)) INTO res FROM unnest(took) m;
  res := res || jsonb_build_object('by_event', (SELECT jsonb_object_agg(k, jsonb_build_object('n', c, 'p50_ms', p50,
      'p99_ms', p99)) FROM (SELECT k, count(*) c, percentile_disc(0.5) WITHIN GROUP (ORDER BY m) p50,
      percentile_disc(0.99) WITHIN GROUP (ORDER BY m) p99 FROM unnest(kinds, took) u(k, m) GROUP BY k) x),
    'rules_enabled', (SELECT count(*) FROM rules WHERE enabled),
    'rule_runs', (SELECT count(*) FROM rule_runs),
    'rule_runs_failed', (SELECT count(*) FROM rule_runs WHERE status = 'failed'),
    'notifications', (SELECT count(*) FROM notifications),
    'tasks_made', (SELECT count(*) FROM tasks));
  PERFORM set_config('crm.bench_result', res::text, true);
END
$$;
SELECT 'CRM_RULES ' || current_setting('crm.bench_result');
ROLLBACK;
`;
  const rows = await sql(text);
  const line = rows.map((r) => r.join('|')).find((l) => l.startsWith('CRM_RULES '));
  if (!line) throw new Error('rule_eval: no result line');
  const r = JSON.parse(line.slice('CRM_RULES '.length));
  const round = (x) => Math.round(x * 1000) / 1000;
  for (const k of ['p50_ms', 'p90_ms', 'p99_ms', 'max_ms', 'mean_ms', 'sum_s', 'wall_s']) r[k] = round(r[k]);
  for (const v of Object.values(r.by_event)) { v.p50_ms = round(v.p50_ms); v.p99_ms = round(v.p99_ms); }
  r.method = 'SQL: clock_timestamp() around each automation_event(e) call, events in outbox order including those '
    + 'the rules make, one transaction as the worker in the workspace, rolled back';
  say(`  ${r.events} events, ${r.rule_runs} rule runs (${r.rule_runs_failed} failed), ${r.rules_enabled} rules enabled: `
    + `p50 ${ms(r.p50_ms)}, p90 ${ms(r.p90_ms)}, p99 ${ms(r.p99_ms)}, max ${ms(r.max_ms)}, mean ${ms(r.mean_ms)}`);
  for (const [k, v] of Object.entries(r.by_event).sort((a, b) => b[1].n - a[1].n)) {
    say(`    ${k.padEnd(22)} ${String(v.n).padStart(6)}   p50 ${ms(v.p50_ms).padStart(10)}   p99 ${ms(v.p99_ms).padStart(10)}`);
  }
  return r;
}

/* ---------- timers ---------- */

async function timers(w) {
  const n = opt.timers;
  say('');
  // the first whole minute at least 90 s ahead (10,000 task.created events
  // must be turned into timers before it)
  const nowMs = Date.now();
  const at = new Date(Math.ceil((nowMs + 90000) / 60000) * 60000);
  const due = at.toISOString();
  say(`== timers: ${n} task reminders due ${opt.spread === 'second' ? `on the same second, ${due}`
    : `over the minute from ${due}`} (tasks.reminder_minutes ${w.reminder}: due_at ${w.reminder} min later); `
    + `fired within 5 s?`);
  // reminder time of task i: `at`, or spread over the minute (ms apart)
  const offset = opt.spread === 'second' ? "interval '0'" : "make_interval(secs => (i % 60) + (i * 37 % 1000) / 1000.0)";
  const chunk = 1000;
  const t0 = Date.now();
  for (let from = 1; from <= n; from += chunk) {
    const to = Math.min(n, from + chunk - 1);
    await sql(`BEGIN; ${ctx(w)}
      SELECT count(record_create('tasks', jsonb_build_object('subject', '提醒压测 ' || i,
        'due_at', to_jsonb(timestamptz '${due}' + ${offset} + make_interval(mins => ${w.reminder})),
        'assignee_id', (ARRAY[${w.sales[0].member}, ${w.sales[1].member}])[1 + i % 2])))
      FROM generate_series(${from}, ${to}) i;
      COMMIT;`);
  }
  const createdS = (Date.now() - t0) / 1000;
  say(`  ${n} tasks created in ${createdS.toFixed(1)} s (${chunk} per transaction)`);
  const timerCount = async () => Number(await one(`SELECT count(*) FROM public.jobs WHERE tenant_id = ${w.tid}
    AND kind = 'timer' AND key LIKE 'task_due:%'`));
  let set = 0;
  while (Date.now() < at.getTime() - 1000 && (set = await timerCount()) < n) await sleep(250);
  const scheduledS = (Date.now() - t0) / 1000;
  if (set < n) set = await timerCount();
  say(`  ${set} of ${n} timers set by crm-worker ${set === n ? `${scheduledS.toFixed(1)} s after the first commit` : 'before the due time'}`);
  // wait for the reminders: until all are there, or a minute past the due time
  const last = at.getTime() + (opt.spread === 'second' ? 0 : 60000);
  for (;;) {
    const fired = Number(await one(`SELECT count(*) FROM t_${w.tid}.notifications WHERE kind = 'task_due'`));
    const open = Number(await one(`SELECT count(*) FROM public.jobs WHERE tenant_id = ${w.tid} AND kind = 'timer'
      AND status <> 'done'`));
    if ((fired >= n && open === 0) || Date.now() > last + 60000) break;
    await sleep(Date.now() < at.getTime() ? 1000 : 250);
  }
  const rows = await sql(`SELECT extract(epoch FROM n.created_at - j.run_at) * 1000,
      extract(epoch FROM j.updated_at - j.run_at) * 1000, j.status
    FROM public.jobs j LEFT JOIN t_${w.tid}.notifications n ON n.kind = 'task_due' AND n.key = j.key
    WHERE j.tenant_id = ${w.tid} AND j.kind = 'timer' AND j.key LIKE 'task_due:%'`);
  const firedMs = rows.filter((r) => r[0] !== '').map((r) => Number(r[0]));
  const doneMs = rows.filter((r) => r[2] === 'done').map((r) => Number(r[1]));
  const [[intendedOk, spanMs]] = await sql(`SELECT count(*) FILTER (WHERE j.run_at = k.due_at - make_interval(mins => ${w.reminder})),
      extract(epoch FROM max(j.run_at) - min(j.run_at)) * 1000
    FROM public.jobs j JOIN t_${w.tid}.tasks k ON k.id = j.ref_id
    WHERE j.tenant_id = ${w.tid} AND j.kind = 'timer' AND j.key LIKE 'task_due:%'`);
  // what else the worker ran meanwhile (other tenants' sweeps, …)
  const others = await sql(`SELECT kind, count(*) FROM public.jobs WHERE tenant_id <> ${w.tid}
    AND updated_at BETWEEN timestamptz '${due}' AND timestamptz '${due}' + interval '${Math.ceil(
    (Math.max(0, ...firedMs, ...doneMs) + (opt.spread === 'second' ? 0 : 60000)) / 1000) + 1} seconds' GROUP BY kind`);
  // the worker's batches: one transaction fires up to 100 timers (one claim),
  // and all the notifications it writes share its start time
  const [[batches, batchSize, batchMs, firstMs, spanMs2]] = await sql(`WITH b AS (
      SELECT n.created_at AS fired, count(*) AS n, max(j.updated_at) AS done
      FROM public.jobs j JOIN t_${w.tid}.notifications n ON n.kind = 'task_due' AND n.key = j.key
      WHERE j.tenant_id = ${w.tid} AND j.kind = 'timer' AND j.key LIKE 'task_due:%' GROUP BY n.created_at)
    SELECT count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY n),
      percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM done - fired) * 1000),
      extract(epoch FROM min(fired) - timestamptz '${due}') * 1000, extract(epoch FROM max(done) - min(fired)) * 1000
    FROM b`);
  const within = (list) => list.filter((x) => x <= 5000).length;
  const floor = await notificationsFloor(w, n);
  const res = {
    count: n, spread: opt.spread, due: due, reminder_minutes: w.reminder, run_at_span_ms: Number(spanMs),
    tasks_created_s: createdS, timers_set: set, timers_set_s: set === n ? scheduledS : null,
    timers_on_time: Number(intendedOk),
    worker_task_events_per_s: set === n ? Math.round(n / scheduledS) : null,
    fired: { ...stats(firedMs), within_5s: within(firedMs) },
    done: { ...stats(doneMs), within_5s: within(doneMs) },
    missing: n - firedMs.length,
    worker: { batches: Number(batches), batch_size_p50: Number(batchSize), batch_ms_p50: Number(Number(batchMs).toFixed(1)),
      first_batch_after_ms: Number(Number(firstMs).toFixed(1)), firing_span_ms: Number(Number(spanMs2).toFixed(1)),
      // the worker's pace, when the timers were all due at once
      timers_per_s: opt.spread === 'second' && Number(spanMs2) > 0
        ? Math.round(firedMs.length / (Number(spanMs2) / 1000)) : null },
    other_jobs_meanwhile: Object.fromEntries(others.map(([k, c]) => [k, Number(c)])),
    floor_notifications_per_s: floor,
    target: 'all within 5 s of run_at',
  };
  res.worker.timers_per_s_over_floor = res.worker.timers_per_s && floor
    ? Number((res.worker.timers_per_s / floor).toFixed(2)) : null;
  say(`  fired (notification created_at - run_at): p50 ${ms(res.fired.p50_ms)}, p99 ${ms(res.fired.p99_ms)}, `
    + `max ${ms(res.fired.max_ms)}; ${res.fired.within_5s} of ${n} within 5 s; ${res.missing} missing`);
  say(`  done   (job marked done - run_at):          p50 ${ms(res.done.p50_ms)}, p99 ${ms(res.done.p99_ms)}, `
    + `max ${ms(res.done.max_ms)}; ${res.done.within_5s} of ${n} within 5 s`);
  say(`  crm-worker: ${res.worker.batches} batches of ${res.worker.batch_size_p50} (p50), ${res.worker.batch_ms_p50} ms each `
    + `(p50, fire to done), the first ${res.worker.first_batch_after_ms} ms after the due second, all in `
    + `${res.worker.firing_span_ms} ms${res.worker.timers_per_s ? `: ${res.worker.timers_per_s} timers/s` : ''}`);
  say(`  floor: ${floor} bare notification rows/s (250 per transaction); crm-worker at `
    + `${res.worker.timers_per_s_over_floor ?? 'n/a'} of it`);
  say(`  ${res.timers_on_time} of ${n} timers at their intended time (run_at = due_at - reminder); other jobs run `
    + `meanwhile: ${JSON.stringify(res.other_jobs_meanwhile)}`);
  return res;
}

// The floor of a timer batch: n notification rows written bare, 250 per
// transaction, in one session of the workspace (then deleted); rows/s.
async function notificationsFloor(w, n) {
  const [[seconds]] = await sql(`SET ROLE crm_t_${w.tid}; SET search_path = t_${w.tid};
    DO $$ DECLARE started timestamptz := clock_timestamp(); BEGIN
      FOR b IN 0 .. ${Math.ceil(n / 250) - 1} LOOP
        INSERT INTO notifications (member_id, kind, title, object, record_id, key)
        SELECT ${w.sales[0].member}, 'task_due', '任务即将到期：提醒压测 ' || i, 'tasks', i, 'floor:' || i
        FROM generate_series(b * 250 + 1, least(${n}, b * 250 + 250)) i;
        COMMIT;
      END LOOP;
      -- a session setting carries the time out of the block
      PERFORM set_config('bench.floor_s', extract(epoch FROM clock_timestamp() - started)::text, false);
    END $$;
    SELECT current_setting('bench.floor_s');
    DELETE FROM notifications WHERE key LIKE 'floor:%';`);
  return Math.round(n / Number(seconds));
}

/* ---------- main ---------- */

// The stack's crm-worker (a measurement it did not live through is marked).
function workerPid() {
  try {
    return fs.readFileSync(path.join(opt.var, 'run', 'crm-worker.pid'), 'utf8').trim();
  } catch {
    return null;
  }
}

async function main() {
  const started = new Date();
  say(`bench-automation against ${opt.base} (${opt.var})`);
  const w = await workspace();
  await reset(w);
  say(`workspace ${SLUG} (tenant ${w.tid}), sales members ${w.sales.map((s) => s.member).join(', ')}`);
  const doc = { measured_at: started.toISOString(), base_url: opt.base, tenant: w.tid };
  let failed = 0;
  const part = async (name, fn) => {
    if (!opt.only.includes(name)) return;
    const backlog = await workerIdle();
    if (backlog > 0) say(`(warning: ${backlog} jobs still due when ${name} starts)`);
    const pid = workerPid();
    try {
      doc[name] = await fn(w);
      doc[name].backlog_at_start = backlog;
      if (workerPid() !== pid) {
        doc[name].worker_restarted = true;
        say(`(warning: crm-worker was restarted during ${name}: its figures include the restart)`);
      }
    } catch (err) {
      failed++;
      doc[name] = { error: String(err.message || err) };
      console.error(`${name}: ${err.stack || err}`);
    }
  };
  await part('lead_to_owner', leadToOwner);
  await part('rule_eval', ruleEval);
  await part('timers', timers);
  if (!opt.keep) await reset(w);
  doc.seconds = Math.round((Date.now() - started.getTime()) / 100) / 10;

  say('');
  say('automation summary');
  const l = doc.lead_to_owner;
  if (l && !l.error) say(`  lead_to_owner  p50 ${ms(l.p50_ms)}   p99 ${ms(l.p99_ms)}   (target p50 <= 1000 ms: `
    + `${l.p50_ms !== null && l.p50_ms <= 1000 && l.missed === 0 ? 'met' : 'MISSED'})`);
  const r = doc.rule_eval;
  if (r && !r.error) say(`  rule_eval      p50 ${ms(r.p50_ms)}   p99 ${ms(r.p99_ms)}   per event, ${r.events} events`);
  const t = doc.timers;
  if (t && !t.error) say(`  timers         ${t.fired.within_5s} of ${t.count} fired within 5 s, max ${ms(t.fired.max_ms)}, `
    + `p99 ${ms(t.fired.p99_ms)}   (target all: ${t.fired.within_5s === t.count ? 'met' : 'MISSED'})`);
  if (opt.out) fs.writeFileSync(opt.out, `${JSON.stringify(doc, null, 2)}\n`);
  if (opt.results) {
    const all = fs.existsSync(opt.results) ? JSON.parse(fs.readFileSync(opt.results, 'utf8')) : {};
    all.automation = doc;
    fs.writeFileSync(opt.results, `${JSON.stringify(all, null, 2)}\n`);
    say(`automation figures written to ${opt.results} ("automation")`);
  }
  if (failed) process.exitCode = 1;
}

main().catch((err) => {
  console.error(`bench-automation: ${err.stack || err}`);
  process.exit(1);
});
