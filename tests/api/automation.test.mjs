// Automation: the starter rules of a new workspace, rules through the API
// (validation, isolation, rights), what the worker does with them (lead
// assignment round robin with the owner notified, conditions on custom
// fields, chains that end, the execution log), task due reminders, the
// no-activity sweep, the public pool (claim, release, limits) and in-app
// notifications. The stack's crm-worker does the work: tests poll for it.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  addCustomField, addMember, api, assertError, BASE_URL, createRecord, crmctl, expectStatus, signup, sql, unique,
} from './lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it answers something truthy (or fails after ms: generous,
// since one crm-worker serves every test file running at once, under the
// sanitizers in make test).
async function eventually(what, fn, ms = 45000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const get = async (token, p) => expectStatus(await api('GET', p, { token }), 200);
const notificationsOf = async (token) => get(token, '/api/v1/notifications?limit=200');

// Runs SQL in a tenant's context, as the worker does.
const inTenant = (tid, text) => sql(`BEGIN; SET LOCAL ROLE crm_t_${Number(tid)}; SET LOCAL search_path = t_${Number(tid)};
  ${text}; COMMIT;`);

let owner;
let tid;
let salesA;
let salesB;

before(async () => {
  owner = await signup();
  tid = owner.tenant.id;
  salesA = await addMember(owner.access_token, { role: 'sales', name: '销售甲' });
  salesB = await addMember(owner.access_token, { role: 'sales', name: '销售乙' });
});

test('a new workspace has the starter rules, editable', async () => {
  const rules = (await get(owner.access_token, '/api/v1/rules')).data;
  const keys = rules.map((r) => r.key).sort();
  for (const k of ['lead_assignment', 'lead_qualified', 'follow_up_3_days', 'follow_up_7_days', 'stage_quote_task',
    'big_deal_won', 'contact_birthday', 'signing_anniversary', 'lead_score_contact', 'lead_score_activity']) {
    assert.ok(keys.includes(k), `starter rule ${k}`);
  }
  const quote = rules.find((r) => r.key === 'stage_quote_task');
  assert.equal(typeof quote.trigger.to, 'number', 'the stage name became the stage id');
  const off = expectStatus(await api('PATCH', `/api/v1/rules/${quote.id}`, {
    token: owner.access_token, body: { enabled: false, version: quote.version } }), 200);
  assert.equal(off.enabled, false);
  assert.equal(off.version, quote.version + 1);
  const on = await api('PATCH', `/api/v1/rules/${quote.id}`, {
    token: owner.access_token, body: { enabled: true, version: quote.version } });
  assertError(on, 412, 'version_conflict');
  expectStatus(await api('PATCH', `/api/v1/rules/${quote.id}`, {
    token: owner.access_token, body: { enabled: true } }), 200);
});

test('a lead without owner goes round robin to the sales members, who are notified', async () => {
  const a = await createRecord(owner.access_token, 'leads', { name: `线索 ${unique()}`, owner_id: null });
  const b = await createRecord(owner.access_token, 'leads', { name: `线索 ${unique()}`, owner_id: null });
  const ownerOf = async (id) => (await get(owner.access_token, `/api/v1/leads/${id}`)).owner_id;
  const oa = await eventually('lead a assigned', () => ownerOf(a.id));
  const ob = await eventually('lead b assigned', () => ownerOf(b.id));
  const sales = [salesA.member.id, salesB.member.id].sort();
  assert.deepEqual([oa, ob].sort(), sales, 'one lead each, in turn');
  const mine = oa === salesA.member.id ? salesA : salesB;
  const n = await eventually('the assignee is notified', async () => {
    const list = await notificationsOf(mine.access_token);
    return list.data.find((x) => x.kind === 'assigned' && x.record_id === a.id);
  });
  assert.equal(n.object, 'leads');
  assert.equal(n.read_at, null);
  // the other member does not see it
  const other = mine === salesA ? salesB : salesA;
  assert.ok(!(await notificationsOf(other.access_token)).data.some((x) => x.record_id === a.id));
  // a lead with an owner stays with them
  const kept = await createRecord(owner.access_token, 'leads', { name: `线索 ${unique()}` });
  await sleep(1500);
  assert.equal(await ownerOf(kept.id), kept.owner_id);
});

test('a rule with a custom-field condition acts, logs its run, and a chain ends', async () => {
  await addCustomField(tid, 'customers', { key: 'budget', type: 'number' });
  const rule = expectStatus(await api('POST', '/api/v1/rules', { token: owner.access_token, body: {
    name: '大预算客户打标签',
    object: 'customers',
    trigger: { type: 'created' },
    conditions: { all: [{ field: 'custom.budget', op: 'gt', value: 500000 }] },
    actions: [{ type: 'add_tag', tag: '大客户' }, { type: 'set_field', field: 'level', value: 'A' },
      { type: 'notify', to: 'owner', title: '大客户 {{name}}' }],
  } }), 201);
  // updated → adds a tag → updated again…: fires once per record and cause
  const loop = expectStatus(await api('POST', '/api/v1/rules', { token: owner.access_token, body: {
    name: '更新即打标签', object: 'customers', trigger: { type: 'updated' },
    actions: [{ type: 'add_tag', tag: '已更新' }, { type: 'set_field', field: 'industry', value: `行业 ${unique()}` }],
  } }), 201);
  const big = await createRecord(owner.access_token, 'customers', { name: `预算客户 ${unique()}`, custom: { budget: 900000 } });
  const small = await createRecord(owner.access_token, 'customers', { name: `小客户 ${unique()}`, custom: { budget: 100 } });
  const done = await eventually('the big customer tagged', async () => {
    const c = await get(owner.access_token, `/api/v1/customers/${big.id}`);
    return c.tags.includes('大客户') && c.level === 'A' && c.tags.includes('已更新') ? c : null;
  });
  assert.equal(done.level, 'A');
  await sleep(1500);
  const s = await get(owner.access_token, `/api/v1/customers/${small.id}`);
  assert.deepEqual(s.tags, [], 'the condition kept the rule off the small one');
  const runs = (await get(owner.access_token, `/api/v1/rules/${rule.id}/runs`)).data;
  assert.equal(runs.length, 1);
  assert.equal(runs[0].record_id, big.id);
  assert.equal(runs[0].status, 'done');
  assert.deepEqual(runs[0].results.map((x) => x.type), ['add_tag', 'set_field', 'notify']);
  const loopRuns = (await get(owner.access_token, `/api/v1/rules/${loop.id}/runs`)).data;
  assert.equal(loopRuns.filter((r) => r.record_id === big.id).length, 1, 'the looping rule fired once for the chain');
  const n = (await notificationsOf(owner.access_token)).data.find((x) => x.rule_id === rule.id);
  assert.equal(n.title, `大客户 ${big.name}`);
  expectStatus(await api('DELETE', `/api/v1/rules/${loop.id}`, { token: owner.access_token }), 204);
  assertError(await api('GET', `/api/v1/rules/${loop.id}`, { token: owner.access_token }), 404, 'not_found');
});

test('bad rules are 422 naming the part, and change nothing', async () => {
  const before = (await get(owner.access_token, '/api/v1/rules')).data.length;
  const bad = [
    [{ name: '', object: 'customers', trigger: { type: 'created' }, actions: [{ type: 'add_tag', tag: 'x' }] }, { name: 'required' }],
    [{ name: 'x', object: 'planets', trigger: { type: 'created' }, actions: [] }, { object: 'invalid_value' }],
    [{ name: 'x', object: 'customers', trigger: { type: 'sometimes' }, actions: [{ type: 'add_tag', tag: 'x' }] }, { 'trigger.type': 'invalid_value' }],
    [{ name: 'x', object: 'customers', trigger: { type: 'field_changed', field: 'nope' }, actions: [{ type: 'add_tag', tag: 'x' }] }, { 'trigger.field': 'unknown_field' }],
    [{ name: 'x', object: 'leads', trigger: { type: 'no_activity', days: 3 }, actions: [{ type: 'add_tag', tag: 'x' }] }, { 'trigger.type': 'not_supported_for_object' }],
    [{ name: 'x', object: 'customers', trigger: { type: 'created' }, conditions: { all: [{ field: 'zzz', op: 'eq', value: 1 }] }, actions: [{ type: 'add_tag', tag: 'x' }] }, { 'conditions.all[0].field': 'unknown_field' }],
    [{ name: 'x', object: 'customers', trigger: { type: 'created' }, conditions: { any: [{ field: 'name', op: 'like', value: 1 }] }, actions: [{ type: 'add_tag', tag: 'x' }] }, { 'conditions.any[0].op': 'invalid_operator' }],
    [{ name: 'x', object: 'customers', trigger: { type: 'created' }, actions: [{ type: 'explode' }] }, { 'actions[0].type': 'invalid_value' }],
    [{ name: 'x', object: 'customers', trigger: { type: 'created' }, actions: [{ type: 'assign', strategy: 'member', member: 999999 }] }, { 'actions[0]': 'invalid_assignment' }],
    [{ name: 'x', object: 'customers', trigger: { type: 'created' }, actions: [{ type: 'notify', to: 'nobody', title: 't' }] }, { 'actions[0].to': 'invalid_value' }],
    [{ name: 'x', object: 'customers', trigger: { type: 'created' }, actions: [{ type: 'set_field', field: 'id', value: 1 }] }, { 'actions[0].field': 'unknown_field' }],
    [{ name: 'x', object: 'customers', trigger: { type: 'created' }, actions: [{ type: 'webhook', webhook: 424242 }] }, { 'actions[0].webhook': 'invalid_value' }],
    [{ name: 'x', object: 'tasks', trigger: { type: 'date_offset', field: 'subject', hours: 1 }, actions: [{ type: 'add_tag', tag: 'x' }] }, { 'trigger.field': 'not_a_date' }],
    // a part left out, or null, is as bad as a wrong one
    [{ name: 'x', object: 'customers', trigger: { type: 'created' }, conditions: { all: [{ field: null, op: 'eq', value: 1 }] }, actions: [{ type: 'add_tag', tag: 'x' }] }, { 'conditions.all[0].field': 'unknown_field' }],
    [{ name: 'x', object: 'customers', trigger: { type: 'created' }, conditions: { all: [{ any: [] }] }, actions: [{ type: 'add_tag', tag: 'x' }] }, { 'conditions.all[0]': 'invalid_value' }],
    [{ name: 'x', object: 'customers', trigger: { type: 'created' }, actions: [{ type: 'notify', to: 'owner' }] }, { 'actions[0].title': 'required' }],
    [{ name: 'x', object: 'customers', trigger: { type: 'created' }, actions: [{ type: 'create_task' }] }, { 'actions[0].subject': 'required' }],
    [{ name: 'x', object: 'customers', trigger: { type: 'created' }, actions: [{ type: 'add_tag' }] }, { 'actions[0].tag': 'invalid_value' }],
    [{ name: 'x', object: 'leads', trigger: { type: 'created' }, actions: [{ type: 'add_score' }] }, { 'actions[0].points': 'invalid_value' }],
    [{ name: 'x', object: 'customers', trigger: { type: 'created' }, actions: [{ type: 'assign' }] }, { 'actions[0]': 'invalid_assignment' }],
    [{ name: 'x', object: 'tasks', trigger: { type: 'date_offset', field: 'due_at' }, actions: [{ type: 'add_tag', tag: 'x' }] }, { 'trigger.hours': 'invalid_value' }],
    [{ name: 'x', object: 'contacts', trigger: { type: 'created' }, actions: [{ type: 'add_tag', tag: 'x', on: null }] }, { 'actions[0].on': 'invalid_value' }],
    // set_field on a linked record takes that record's fields
    [{ name: 'x', object: 'opportunities', trigger: { type: 'created' }, actions: [{ type: 'set_field', on: 'customers', field: 'amount', value: 1 }] }, { 'actions[0].field': 'unknown_field' }],
  ];
  for (const [body, fields] of bad) {
    assertError(await api('POST', '/api/v1/rules', { token: owner.access_token, body }), 422, 'validation_failed', fields);
  }
  assertError(await api('POST', '/api/v1/rules', { token: owner.access_token, raw: '{"name":' }), 400, 'invalid_json');
  assertError(await api('GET', '/api/v1/rules/abc', { token: owner.access_token }), 404, 'not_found');
  assertError(await api('GET', '/api/v1/rules/1/runs?cursor=zzz', { token: owner.access_token }), 400, 'bad_request',
    { cursor: 'invalid_value' });
  assert.equal((await get(owner.access_token, '/api/v1/rules')).data.length, before);
  // …and the field of the linked record is fine
  const linked = expectStatus(await api('POST', '/api/v1/rules', { token: owner.access_token, body: { name: '商机带动客户等级',
    object: 'opportunities', trigger: { type: 'created' }, actions: [{ type: 'set_field', on: 'customers', field: 'level', value: 'A' }] } }), 201);
  expectStatus(await api('DELETE', `/api/v1/rules/${linked.id}`, { token: owner.access_token }), 204);
});

test('PATCH of a rule, webhook or sequence takes If-Match as the version', async () => {
  const t = owner.access_token;
  const rule = expectStatus(await api('POST', '/api/v1/rules', { token: t, body: { name: '版本测试', object: 'customers',
    trigger: { type: 'created' }, actions: [{ type: 'add_tag', tag: '版本' }] } }), 201);
  assertError(await api('PATCH', `/api/v1/rules/${rule.id}`, { token: t, headers: { 'If-Match': String(rule.version + 5) },
    body: { name: '过期的修改' } }), 412, 'version_conflict');
  assertError(await api('PATCH', `/api/v1/rules/${rule.id}`, { token: t, headers: { 'If-Match': 'abc' },
    body: { name: '坏的版本' } }), 400, 'bad_request');
  assert.equal((await get(t, `/api/v1/rules/${rule.id}`)).name, '版本测试', 'nothing changed');
  const renamed = expectStatus(await api('PATCH', `/api/v1/rules/${rule.id}`, { token: t,
    headers: { 'If-Match': `W/"${rule.version}"` }, body: { name: '新名字', version: 999 } }), 200);
  assert.equal(renamed.name, '新名字', 'If-Match wins over a version in the body');
  assert.equal(renamed.version, rule.version + 1);
  const seq = expectStatus(await api('POST', '/api/v1/sequences', { token: t, body: { name: '版本序列',
    steps: [{ day: 1, subject: 'a', body: 'b' }] } }), 201);
  assertError(await api('PATCH', `/api/v1/sequences/${seq.id}`, { token: t, headers: { 'If-Match': '"9"' },
    body: { name: 'x' } }), 412, 'version_conflict');
  const hook = expectStatus(await api('POST', '/api/v1/webhooks', { token: t, body: { name: '版本钩子',
    url: 'https://example.com/hook' } }), 201);
  assertError(await api('PATCH', `/api/v1/webhooks/${hook.id}`, { token: t, headers: { 'If-Match': '7' },
    body: { name: 'x' } }), 412, 'version_conflict');
  for (const [p] of [[`/api/v1/rules/${rule.id}`], [`/api/v1/sequences/${seq.id}`], [`/api/v1/webhooks/${hook.id}`]]) {
    expectStatus(await api('DELETE', p, { token: t }), 204);
  }
});

test('rules belong to their workspace and to those who manage settings', async () => {
  // ids are per workspace: take one the other workspace does not have
  const mine = (await get(owner.access_token, '/api/v1/rules')).data.sort((a, b) => b.id - a.id)[0];
  const other = await signup();
  for (const [m, p, body] of [['GET', `/api/v1/rules/${mine.id}`], ['PATCH', `/api/v1/rules/${mine.id}`, { enabled: false }],
    ['DELETE', `/api/v1/rules/${mine.id}`], ['GET', `/api/v1/rules/${mine.id}/runs`]]) {
    assertError(await api(m, p, { token: other.access_token, body }), 404, 'not_found');
  }
  assert.ok(!(await get(other.access_token, '/api/v1/rules')).data.some((r) => r.id === mine.id && r.name === mine.name
    && r.created_at === mine.created_at));
  assertError(await api('GET', '/api/v1/rules', { token: salesA.access_token }), 403, 'forbidden');
  assertError(await api('POST', '/api/v1/rules', { token: salesA.access_token, body: {} }), 403, 'forbidden');
  expectStatus(await api('GET', `/api/v1/rules/${mine.id}`, { token: owner.access_token }), 200);
});

test('a task due soon reminds its assignee once', async () => {
  // reminders come tasks.reminder_minutes (15) before the due time
  const due = new Date(Date.now() + 15 * 60 * 1000 + 1500).toISOString();
  const t = await createRecord(salesA.access_token, 'tasks', { subject: `回访 ${unique()}`, due_at: due });
  const n = await eventually('the due reminder', async () => (await notificationsOf(salesA.access_token)).data
    .find((x) => x.kind === 'task_due' && x.record_id === t.id), 20000);
  assert.match(n.title, /回访/);
  // its job ended in the transaction that fired it: done, on the first attempt
  const job = await sql(`SELECT status, attempts FROM public.jobs WHERE tenant_id = ${Number(tid)} AND kind = 'timer' AND key LIKE 'task_due:${t.id}:%'`);
  assert.deepEqual(job, [['done', '1']]);
  // moving the due date makes the old timer do nothing and sets a new one
  const soon = new Date(Date.now() + 15 * 60 * 1000 + 3000).toISOString();
  const later = await createRecord(salesA.access_token, 'tasks', { subject: `改期 ${unique()}`, due_at: soon });
  expectStatus(await api('PATCH', `/api/v1/tasks/${later.id}`, { token: salesA.access_token,
    body: { due_at: new Date(Date.now() + 86400000).toISOString(), version: later.version } }), 200);
  await sleep(4000);
  assert.ok(!(await notificationsOf(salesA.access_token)).data.some((x) => x.record_id === later.id));
});

test('a customer quiet for 3 days reminds its owner; for 7 its manager', async () => {
  const c = await createRecord(salesA.access_token, 'customers', { name: `沉默客户 ${unique()}`, force: true });
  expectStatus(await api('PATCH', `/api/v1/members/${salesA.member.id}`, { token: owner.access_token,
    body: { manager_id: (await get(owner.access_token, '/api/v1/me')).member?.id ?? (await get(owner.access_token, '/api/v1/members')).data.find((m) => m.role === 'owner').id } }), 200);
  await inTenant(tid, `UPDATE customers SET created_at = now() - interval '8 days' WHERE id = ${c.id};
    UPDATE settings SET value = to_jsonb(now() - interval '6 days') WHERE key = 'automation.swept_at';
    SELECT automation_sweep()`);
  const mine = (await notificationsOf(salesA.access_token)).data.filter((x) => x.record_id === c.id);
  assert.equal(mine.length, 1, 'the owner is reminded');
  assert.match(mine[0].title, /3 天/);
  const boss = (await notificationsOf(owner.access_token)).data.filter((x) => x.record_id === c.id);
  assert.equal(boss.length, 1, 'the manager is reminded');
  assert.match(boss[0].title, /7 天/);
  // a second sweep over the same spell adds nothing
  await inTenant(tid, `UPDATE settings SET value = to_jsonb(now() - interval '6 days') WHERE key = 'automation.swept_at';
    SELECT automation_sweep()`);
  assert.equal((await notificationsOf(salesA.access_token)).data.filter((x) => x.record_id === c.id).length, 1);
});

test('the public pool: customers return, members claim within their limit, all audited', async () => {
  const c = await createRecord(salesA.access_token, 'customers', { name: `公海客户 ${unique()}`, force: true });
  const released = expectStatus(await api('POST', `/api/v1/customers/${c.id}/release`, { token: salesA.access_token }), 200);
  assert.equal(released.in_pool, true);
  assert.equal(released.owner_id, null);
  assertError(await api('POST', `/api/v1/customers/${c.id}/release`, { token: owner.access_token }), 409, 'conflict');
  const pool = await get(salesB.access_token, '/api/v1/customers/pool?limit=200');
  const entry = pool.data.find((x) => x.id === c.id)?.pool_entry;
  assert.ok(entry, 'everyone sees the pool');
  assert.equal(entry.action, 'released', 'and how each customer came into it');
  assert.equal(entry.actor.id, salesA.member.id);
  const claimed = expectStatus(await api('POST', `/api/v1/customers/${c.id}/claim`, { token: salesB.access_token }), 200);
  assert.equal(claimed.owner_id, salesB.member.id);
  assert.equal(claimed.in_pool, false);
  // claimed: salesB's now, so out of salesA's scope (404); the owner is told it is no longer in the pool
  assertError(await api('POST', `/api/v1/customers/${c.id}/claim`, { token: salesA.access_token }), 404, 'not_found');
  assertError(await api('POST', `/api/v1/customers/${c.id}/claim`, { token: owner.access_token }), 409, 'conflict');
  const history = (await get(owner.access_token, `/api/v1/customers/${c.id}/history`)).data;
  assert.ok(history.some((h) => h.action === 'released' && h.field === 'owner_id'));
  assert.ok(history.some((h) => h.action === 'claimed' && h.field === 'owner_id'));
  // the limit: sales may hold 0 now
  expectStatus(await api('PATCH', '/api/v1/settings', { token: owner.access_token,
    body: { 'public_pool.claim_limits': { sales: 0, manager: 500 } } }), 200);
  expectStatus(await api('POST', `/api/v1/customers/${c.id}/release`, { token: salesB.access_token }), 200);
  assertError(await api('POST', `/api/v1/customers/${c.id}/claim`, { token: salesA.access_token }), 422,
    'validation_failed', { owner_id: 'claim_limit_reached' });
  // return by the sweep: quiet longer than the workspace's days
  const quiet = await createRecord(salesA.access_token, 'customers', { name: `久未跟进 ${unique()}`, force: true });
  await inTenant(tid, `UPDATE customers SET created_at = now() - interval '40 days' WHERE id = ${quiet.id}; SELECT automation_sweep()`);
  const back = await get(owner.access_token, `/api/v1/customers/${quiet.id}`);
  assert.equal(back.in_pool, true);
  assert.equal(back.owner_id, null);
  const returned = (await get(owner.access_token, '/api/v1/customers/pool?limit=200')).data.find((x) => x.id === quiet.id);
  assert.equal(returned.pool_entry.action, 'returned_to_pool');
  assert.equal(returned.pool_entry.actor, null, 'the sweep, not a member');
  // another workspace sees none of it
  const other = await signup();
  assertError(await api('POST', `/api/v1/customers/${c.id}/claim`, { token: other.access_token }), 404, 'not_found');
  assert.ok(!(await get(other.access_token, '/api/v1/customers/pool')).data.some((x) => x.name === c.name));
});

test('scope own: a pooled customer is open to every sales member; a record without an owner outside the pool is not', async () => {
  const pooled = await createRecord(salesA.access_token, 'customers', { name: `公海可见 ${unique()}`, force: true });
  expectStatus(await api('POST', `/api/v1/customers/${pooled.id}/release`, { token: salesA.access_token }), 200);
  assert.equal((await get(salesB.access_token, `/api/v1/customers/${pooled.id}`)).in_pool, true);
  const unowned = await createRecord(owner.access_token, 'customers', { name: `无主客户 ${unique()}`, owner_id: null, force: true });
  assert.equal(unowned.owner_id, null);
  const contact = await createRecord(owner.access_token, 'contacts', { name: `无主联系人 ${unique()}`, owner_id: null });
  for (const p of [`/api/v1/customers/${unowned.id}`, `/api/v1/customers/${unowned.id}/history`, `/api/v1/contacts/${contact.id}`]) {
    assertError(await api('GET', p, { token: salesB.access_token }), 404, 'not_found');
  }
  // nor may it be linked, nor claimed (which would tell that it exists)
  assertError(await api('POST', '/api/v1/contacts', { token: salesB.access_token,
    body: { name: `挂靠 ${unique()}`, customer_id: unowned.id } }), 422, 'validation_failed', { customer_id: 'not_found' });
  assertError(await api('POST', `/api/v1/customers/${unowned.id}/claim`, { token: salesB.access_token }), 404, 'not_found');
  assertError(await api('POST', `/api/v1/customers/${unowned.id}/claim`, { token: owner.access_token }), 409, 'conflict');
  assert.equal((await get(owner.access_token, `/api/v1/customers/${unowned.id}`)).owner_id, null, 'scope all sees it');
});

test('notifications: unread count, read one, read all, only one\'s own', async () => {
  const list = await notificationsOf(salesA.access_token);
  assert.ok(list.data.length > 0);
  const count = (await get(salesA.access_token, '/api/v1/notifications/unread_count')).unread;
  assert.equal(count, list.unread);
  const first = list.data.find((x) => x.read_at === null);
  const after = expectStatus(await api('POST', `/api/v1/notifications/${first.id}/read`, { token: salesA.access_token }), 200);
  assert.equal(after.unread, count - 1);
  assertError(await api('POST', `/api/v1/notifications/${first.id}/read`, { token: salesB.access_token }), 404, 'not_found');
  assertError(await api('POST', '/api/v1/notifications/999999999/read', { token: salesA.access_token }), 404, 'not_found');
  assertError(await api('GET', '/api/v1/notifications?unread=maybe', { token: salesA.access_token }), 400, 'bad_request',
    { unread: 'invalid_value' });
  const unread = await get(salesA.access_token, '/api/v1/notifications?unread=true');
  assert.ok(unread.data.every((x) => x.read_at === null));
  expectStatus(await api('POST', '/api/v1/notifications/read_all', { token: salesA.access_token }), 200);
  assert.equal((await get(salesA.access_token, '/api/v1/notifications/unread_count')).unread, 0);
  // paging by cursor gives every one once
  const seen = new Set();
  let cursor = '';
  do {
    const page = await get(salesA.access_token, `/api/v1/notifications?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    for (const x of page.data) { assert.ok(!seen.has(x.id)); seen.add(x.id); }
    cursor = page.next_cursor;
  } while (cursor);
  assert.equal(seen.size, list.data.length >= 200 ? seen.size : (await notificationsOf(salesA.access_token)).data.length);
});

test('nurture sequences: enroll by hand or by rule, e-mail by day, stop on reply, conversion and unsubscribe', async () => {
  const t = owner.access_token;
  const seq = expectStatus(await api('POST', '/api/v1/sequences', { token: t, body: {
    name: '新线索培育', steps: [{ day: 0, subject: '欢迎 {{name}}', body: '您好 {{name}}' },
      { day: 3, subject: '第三天', body: '案例分享' }],
  } }), 201);
  assert.equal(seq.enrolled, 0);
  for (const [body, fields] of [
    [{ name: 'x', steps: [] }, { steps: 'invalid_value' }],
    [{ name: 'x', steps: [{ day: 3, subject: 'a', body: 'b' }, { day: 1, subject: 'a', body: 'b' }] }, { 'steps[1].day': 'invalid_value' }],
    [{ name: '', steps: [{ day: 0, subject: '', body: 'b' }] }, { name: 'required', 'steps[0].subject': 'required' }],
  ]) {
    assertError(await api('POST', '/api/v1/sequences', { token: t, body }), 422, 'validation_failed', fields);
  }
  const lead = await createRecord(t, 'leads', { name: `培育线索 ${unique()}`, email: `lead-${unique()}@example.com` });
  const noMail = await createRecord(t, 'leads', { name: `无邮箱 ${unique()}` });
  assertError(await api('POST', `/api/v1/sequences/${seq.id}/enrollments`, { token: t,
    body: { object: 'leads', record_id: noMail.id } }), 422, 'validation_failed', { record_id: 'no_email' });
  const e = expectStatus(await api('POST', `/api/v1/sequences/${seq.id}/enrollments`, { token: t,
    body: { object: 'leads', record_id: lead.id } }), 201);
  assert.equal(e.status, 'active');
  // the first step (day 0) is e-mailed at once, with a signed unsubscribe link
  const [[subject, body]] = await eventually('the first e-mail', async () => {
    const rows = await inTenant(tid, `SELECT subject, replace(body, E'\\n', ' ') FROM emails WHERE enrollment_id = ${e.id}`);
    return rows.length ? rows : null;
  });
  assert.equal(subject, `欢迎 ${lead.name}`);
  const link = body.match(/unsubscribe\?t=(\d+)&e=(\d+)&s=([0-9a-f]{64})/);
  assert.ok(link, `an unsubscribe link in: ${body}`);
  assert.ok(body.includes(`${BASE_URL}/unsubscribe?t=`), 'the link starts with CRM_PUBLIC_URL');
  const enrolled = await get(t, `/api/v1/sequences/${seq.id}/enrollments`);
  assert.equal(enrolled.data[0].step, 1, 'the next step is day 3');
  // a wrong signature or tenant changes nothing
  const wrong = link[3].replace(/^./, (c) => (c === '0' ? '1' : '0'));
  assertError(await api('POST', '/api/v1/unsubscribe', { body: { t: Number(link[1]), e: Number(link[2]), s: wrong } }), 404, 'not_found');
  assertError(await api('POST', '/api/v1/unsubscribe', { body: { t: Number(link[1]) + 100000, e: Number(link[2]), s: link[3] } }), 404, 'not_found');
  assertError(await api('POST', '/api/v1/unsubscribe', { body: { t: 'x', e: 1, s: 'y' } }), 404, 'not_found');
  assert.equal((await get(t, `/api/v1/sequences/${seq.id}/enrollments`)).data[0].status, 'active');
  const out = expectStatus(await api('POST', '/api/v1/unsubscribe', { body: { t: Number(link[1]), e: Number(link[2]), s: link[3] } }), 200);
  assert.equal(out.unsubscribed, true);
  const stopped = (await get(t, `/api/v1/sequences/${seq.id}/enrollments`)).data[0];
  assert.deepEqual([stopped.status, stopped.stop_reason], ['stopped', 'unsubscribed']);

  // a reply (an e-mail activity on the lead) stops it
  const replier = await createRecord(t, 'leads', { name: `回复线索 ${unique()}`, email: `r-${unique()}@example.com` });
  const e2 = expectStatus(await api('POST', `/api/v1/sequences/${seq.id}/enrollments`, { token: t,
    body: { object: 'leads', record_id: replier.id } }), 201);
  await createRecord(t, 'activities', { kind: 'email', subject: '客户回复', lead_id: replier.id });
  await eventually('the reply stops the enrollment', async () => {
    const x = (await get(t, `/api/v1/sequences/${seq.id}/enrollments`)).data.find((y) => y.id === e2.id);
    return x.status === 'stopped' && x.stop_reason === 'replied';
  });

  // enrolled by a rule; conversion stops it
  expectStatus(await api('POST', '/api/v1/rules', { token: t, body: {
    name: '官网线索进入培育', object: 'leads', trigger: { type: 'created' },
    conditions: { all: [{ field: 'source', op: 'eq', value: '官网' }] },
    actions: [{ type: 'enroll', sequence: seq.id }] } }), 201);
  assertError(await api('POST', '/api/v1/rules', { token: t, body: {
    name: 'x', object: 'customers', trigger: { type: 'created' }, actions: [{ type: 'enroll', sequence: seq.id }] } }),
  422, 'validation_failed', { 'actions[0].type': 'not_supported_for_object' });
  const web = await createRecord(t, 'leads', { name: `官网线索 ${unique()}`, source: '官网', email: `w-${unique()}@example.com` });
  const e3 = await eventually('the rule enrolls the lead', async () => (await get(t, `/api/v1/sequences/${seq.id}/enrollments`))
    .data.find((y) => y.record_id === web.id));
  expectStatus(await api('POST', `/api/v1/leads/${web.id}/convert`, { token: t, body: {} }), 201);
  await eventually('conversion stops the enrollment', async () => {
    const x = (await get(t, `/api/v1/sequences/${seq.id}/enrollments`)).data.find((y) => y.id === e3.id);
    return x.status === 'stopped' && x.stop_reason === 'converted';
  });
  // another workspace sees none of it
  const other = await signup();
  assertError(await api('GET', `/api/v1/sequences/${seq.id}`, { token: other.access_token }), 404, 'not_found');
  assertError(await api('POST', `/api/v1/enrollments/${e3.id}/stop`, { token: other.access_token }), 404, 'not_found');
});

test('e-mail templates: written once, sent by a rule and a sequence step, refused when bad or in use', async () => {
  const t = owner.access_token;
  for (const [body, fields] of [
    [{ name: '', subject: '', body: '' }, { name: 'required', subject: 'required', body: 'required' }],
    [{ name: 'x', subject: 's'.repeat(201), body: 'b' }, { subject: 'required' }],
    [{ name: 'x', subject: 's', body: null }, { body: 'required' }],
  ]) {
    assertError(await api('POST', '/api/v1/email_templates', { token: t, body }), 422, 'validation_failed', fields);
  }
  const tpl = expectStatus(await api('POST', '/api/v1/email_templates', { token: t,
    body: { name: '欢迎信', subject: '欢迎 {{name}}', body: '您好 {{name}}，感谢关注。' } }), 201);
  assert.equal(tpl.version, 1);
  // a step or an action names a template of this workspace, or has its own subject and body
  assertError(await api('POST', '/api/v1/sequences', { token: t, body: { name: 'x',
    steps: [{ day: 0, template: 999999 }, { day: 1 }] } }), 422, 'validation_failed',
  { 'steps[0].template': 'invalid_value', 'steps[1].subject': 'required', 'steps[1].body': 'required' });
  assertError(await api('POST', '/api/v1/rules', { token: t, body: { name: 'x', object: 'leads',
    trigger: { type: 'created' }, actions: [{ type: 'email', to: 'owner', template: 'abc' }] } }), 422,
  'validation_failed', { 'actions[0].template': 'invalid_value' });
  const seq = expectStatus(await api('POST', '/api/v1/sequences', { token: t, body: { name: '模板序列',
    steps: [{ day: 0, template: tpl.id }] } }), 201);
  // edited before it is sent: the e-mail has the new words
  const edited = expectStatus(await api('PATCH', `/api/v1/email_templates/${tpl.id}`, { token: t,
    headers: { 'If-Match': String(tpl.version) }, body: { subject: '欢迎您，{{name}}' } }), 200);
  assert.equal(edited.version, 2);
  assertError(await api('PATCH', `/api/v1/email_templates/${tpl.id}`, { token: t,
    headers: { 'If-Match': '1' }, body: { name: 'stale' } }), 412, 'version_conflict');
  const lead = await createRecord(t, 'leads', { name: `模板线索 ${unique()}`, email: `tpl-${unique()}@example.com` });
  const e = expectStatus(await api('POST', `/api/v1/sequences/${seq.id}/enrollments`, { token: t,
    body: { object: 'leads', record_id: lead.id } }), 201);
  const [[subject, body]] = await eventually('the template e-mail', async () => {
    const rows = await inTenant(tid, `SELECT subject, body FROM emails WHERE enrollment_id = ${e.id}`);
    return rows.length ? rows : null;
  });
  assert.equal(subject, `欢迎您，${lead.name}`);
  assert.ok(body.startsWith(`您好 ${lead.name}，感谢关注。`));
  // a rule's email action sends it to the owner
  const rule = expectStatus(await api('POST', '/api/v1/rules', { token: t, body: { name: '模板提醒', object: 'customers',
    trigger: { type: 'created' }, actions: [{ type: 'email', to: 'owner', template: tpl.id }] } }), 201);
  const c = await createRecord(t, 'customers', { name: `模板客户 ${unique()}` });
  await eventually('the rule e-mail', async () => (await inTenant(tid,
    `SELECT 1 FROM emails WHERE rule_id = ${rule.id} AND subject = '欢迎您，${c.name}'`)).length === 1);
  // in use: not deleted; free again: deleted
  assertError(await api('DELETE', `/api/v1/email_templates/${tpl.id}`, { token: t }), 409, 'conflict');
  expectStatus(await api('DELETE', `/api/v1/rules/${rule.id}`, { token: t }), 204);
  expectStatus(await api('DELETE', `/api/v1/sequences/${seq.id}`, { token: t }), 204);
  expectStatus(await api('DELETE', `/api/v1/email_templates/${tpl.id}`, { token: t }), 204);
  assertError(await api('GET', `/api/v1/email_templates/${tpl.id}`, { token: t }), 404, 'not_found');
  // another workspace and a member without the right
  const mine = expectStatus(await api('POST', '/api/v1/email_templates', { token: t,
    body: { name: '保留', subject: 's', body: 'b' } }), 201);
  const other = await signup();
  for (const [m, p, b] of [['GET', `/api/v1/email_templates/${mine.id}`], ['PATCH', `/api/v1/email_templates/${mine.id}`, { name: 'x' }],
    ['DELETE', `/api/v1/email_templates/${mine.id}`]]) {
    assertError(await api(m, p, { token: other.access_token, body: b }), 404, 'not_found');
  }
  assert.ok(!(await get(other.access_token, '/api/v1/email_templates')).data.some((x) => x.name === '保留'));
  assertError(await api('POST', '/api/v1/email_templates', { token: salesA.access_token,
    body: { name: 'x', subject: 's', body: 'b' } }), 403, 'forbidden');
  assert.ok((await get(salesA.access_token, '/api/v1/email_templates')).data.some((x) => x.id === mine.id), 'sales may read them');
});

test('a sequence switched off holds its e-mails; switched on, or with a step moved earlier, it goes on', async () => {
  const t = owner.access_token;
  const seq = expectStatus(await api('POST', '/api/v1/sequences', { token: t, body: {
    name: '暂停的培育', enabled: false, steps: [{ day: 0, subject: '第一封', body: '一' },
      { day: 5, subject: '第二封', body: '二' }],
  } }), 201);
  const lead = await createRecord(t, 'leads', { name: `暂停线索 ${unique()}`, email: `paused-${unique()}@example.com` });
  const e = expectStatus(await api('POST', `/api/v1/sequences/${seq.id}/enrollments`, { token: t,
    body: { object: 'leads', record_id: lead.id } }), 201);
  const subjects = async () => (await inTenant(tid,
    `SELECT subject FROM emails WHERE enrollment_id = ${e.id} ORDER BY id`)).map((r) => r[0]);
  // the day-0 timer comes while the sequence is off: nothing is sent
  await eventually('the first timer to pass', async () => (await sql(`SELECT 1 FROM jobs WHERE tenant_id = ${tid}
    AND kind = 'timer' AND key = 'seq:${e.id}:0:${seq.version}' AND status = 'done'`)).length > 0);
  assert.deepEqual(await subjects(), []);
  // switched on: the due step goes out; the day-5 one waits
  const on = expectStatus(await api('PATCH', `/api/v1/sequences/${seq.id}`, { token: t,
    body: { enabled: true, version: seq.version } }), 200);
  await eventually('the first e-mail', async () => (await subjects()).length === 1);
  // its day moved to 0: the second goes out now and the enrollment is complete
  expectStatus(await api('PATCH', `/api/v1/sequences/${seq.id}`, { token: t, body: { version: on.version,
    steps: [{ day: 0, subject: '第一封', body: '一' }, { day: 0, subject: '第二封', body: '二' }] } }), 200);
  await eventually('the second e-mail', async () => (await subjects()).length === 2);
  assert.deepEqual(await subjects(), ['第一封', '第二封'], 'each step once');
  const [row] = (await get(t, `/api/v1/sequences/${seq.id}/enrollments`)).data;
  assert.equal(row.status, 'completed');
});

test('workspace settings: read by members, changed by settings managers, checked, audited', async () => {
  const s = await get(salesA.access_token, '/api/v1/settings');
  assert.equal(s.currency, 'CNY');
  assert.equal(s['public_pool.days_without_follow_up'], 30);
  assert.ok(!('sequences.unsubscribe_secret' in s), 'secrets are not shown');
  assertError(await api('PATCH', '/api/v1/settings', { token: salesA.access_token, body: { currency: 'USD' } }), 403, 'forbidden');
  for (const [body, fields] of [
    [{ 'public_pool.days_without_follow_up': -1 }, { 'public_pool.days_without_follow_up': 'invalid_value' }],
    [{ 'tasks.reminder_minutes': 'soon' }, { 'tasks.reminder_minutes': 'invalid_value' }],
    [{ 'public_pool.claim_limits': { pirates: 3 } }, { 'public_pool.claim_limits': 'invalid_value' }],
    [{ timezone: 'Mars/Olympus' }, { timezone: 'invalid_value' }],
    [{ 'sequences.unsubscribe_secret': 'x' }, { 'sequences.unsubscribe_secret': 'unknown_field' }],
    [{ currency: 'usd', locale: 'en' }, { currency: 'invalid_value' }],
  ]) {
    assertError(await api('PATCH', '/api/v1/settings', { token: owner.access_token, body }), 422, 'validation_failed', fields);
  }
  assert.equal((await get(owner.access_token, '/api/v1/settings')).locale, 'zh-CN', 'a refused change changes nothing');
  const after = expectStatus(await api('PATCH', '/api/v1/settings', { token: owner.access_token,
    body: { 'public_pool.days_without_follow_up': 45, 'tasks.reminder_minutes': 30 } }), 200);
  assert.equal(after['public_pool.days_without_follow_up'], 45);
  assert.equal(after['tasks.reminder_minutes'], 30);
  const audit = await inTenant(tid, `SELECT field, new_value FROM audit_log WHERE object = 'settings' ORDER BY id`);
  assert.ok(audit.some(([f, v]) => f === 'public_pool.days_without_follow_up' && v === '45'));
  const other = await signup();
  assert.equal((await get(other.access_token, '/api/v1/settings'))['public_pool.days_without_follow_up'], 30);
});

test('a date rule saved later schedules the records it already has', async () => {
  const t = await createRecord(salesB.access_token, 'tasks', { subject: `回访日 ${unique()}`,
    due_at: new Date(Date.now() + 3000).toISOString() });
  const rule = expectStatus(await api('POST', '/api/v1/rules', { token: owner.access_token, body: {
    name: '到期时提醒', object: 'tasks', trigger: { type: 'date_offset', field: 'due_at', hours: 0 },
    actions: [{ type: 'notify', to: 'owner', title: '到期：{{subject}}' }] } }), 201);
  const n = await eventually('the date rule fires for the existing task', async () => (await notificationsOf(salesB.access_token))
    .data.find((x) => x.rule_id === rule.id && x.record_id === t.id), 20000);
  assert.equal(n.title, `到期：${t.subject}`);
  assertError(await api('POST', '/api/v1/rules', { token: owner.access_token, body: {
    name: 'x', object: 'tasks', trigger: { type: 'date_offset', field: 'due_at', hours: 1.5 },
    actions: [{ type: 'add_tag', tag: 'x' }] } }), 422, 'validation_failed', { 'trigger.hours': 'invalid_value' });
});

test('crmctl jobs lists dead jobs, retries and drops them', async () => {
  // a job of an unknown kind fails each time: 5 attempts make it dead
  const [[dead]] = await sql(`INSERT INTO public.jobs (tenant_id, kind, ref_id, status, attempts, last_error)
    VALUES (${tid}, 'no_such_kind', 7, 'dead', 5, 'internal') RETURNING id`);
  const list = await crmctl('jobs', 'list', '--status', 'dead');
  assert.equal(list.code, 0, list.stderr);
  const row = list.stdout.split('\n').map((l) => l.split('\t')).find((c) => c[0] === dead);
  assert.deepEqual(row.slice(0, 6), [dead, String(tid), 'no_such_kind', '7', 'dead', '5']);
  const retry = await crmctl('jobs', 'retry', '--id', dead);
  assert.equal(retry.code, 0, retry.stderr);
  assert.equal(retry.stdout.trim(), '1');
  // the worker takes it up again (and, the kind being unknown, fails it again)
  await eventually('the retried job is run', async () => {
    const [[attempts]] = await sql(`SELECT attempts FROM public.jobs WHERE id = ${dead}`);
    return Number(attempts) >= 1;
  });
  const drop = await crmctl('jobs', 'drop', '--id', dead);
  assert.equal(drop.code, 0, drop.stderr);
  assert.deepEqual(await sql(`SELECT id FROM public.jobs WHERE id = ${dead}`), []);
  const usage = await crmctl('jobs', 'drop');
  assert.notEqual(usage.code, 0, 'drop needs --id or --status');
});
