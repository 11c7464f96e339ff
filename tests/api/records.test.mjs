// The record engine's generic routes over the six objects (customers, contacts,
// leads, opportunities, activities, tasks): create, get, list, PATCH, soft
// delete and restore, history, unknown ids, tokens; the object-specific
// bookkeeping (summary, completed_at, is_primary); bad request bodies.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  api, assertError, assertKeys, assertTime, createRecord, expectStatus, listMembers, MiB, signup, sql, testBadBodies, unique,
} from './lib.mjs';

let owner;
let ownerMember;
let customer; // a customer the other objects point at

const BOOKKEEPING = ['id', 'version', 'created_at', 'updated_at', 'created_by', 'tags', 'custom', 'deleted_at'];
const phone = () => `139${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;

// Per object: a full valid body, the required field, a change, the owner column,
// the core fields every record carries, and values the answer normalizes.
const SPECS = {
  customers: {
    body: () => ({
      name: `深圳客户 ${unique()}`, kind: 'company', industry: '通信', source: '官网', level: 'A', region: '华南',
      phone: phone(), email: `info-${unique()}@example.com`, website: 'https://example.com', address: '深圳市龙岗区坂田',
      tags: ['vip'],
    }),
    required: 'name',
    patch: { level: 'B', region: '华东' },
    owner: 'owner_id',
    core: ['name', 'kind', 'industry', 'source', 'level', 'region', 'phone', 'email', 'website', 'address', 'owner_id', 'in_pool', 'last_followed_at'],
    defaults: { in_pool: false, last_followed_at: null },
  },
  contacts: {
    body: () => ({
      customer_id: customer.id, name: `王芳 ${unique()}`, title: '采购经理', phone: '0755-2878 0808', mobile: phone(),
      email: `wang-${unique()}@example.com`, wechat: 'wangfang_88', birthday: '1988-02-29', is_primary: false, tags: ['决策人'],
    }),
    required: 'name',
    patch: { title: '采购总监', wechat: 'wf_2024' },
    owner: 'owner_id',
    core: ['customer_id', 'name', 'title', 'phone', 'mobile', 'email', 'wechat', 'birthday', 'is_primary', 'owner_id'],
  },
  leads: {
    body: () => ({
      name: `刘洋 ${unique()}`, company: '小米科技有限责任公司', phone: phone(), email: `liu-${unique()}@example.com`,
      source: '展会', channel: '线下', status: 'working', score: 42, tags: [],
    }),
    required: 'name',
    patch: { status: 'qualified', score: 80 },
    owner: 'owner_id',
    core: ['name', 'company', 'phone', 'email', 'source', 'channel', 'status', 'score', 'owner_id'],
  },
  opportunities: {
    body: () => ({
      name: `年度框架采购 ${unique()}`, customer_id: customer.id, amount: '12500', currency: 'CNY',
      expected_close_date: '2026-12-31', lost_reason: null, tags: ['重点'],
    }),
    expect: { amount: '12500.00', status: 'open' },
    required: 'name',
    patch: { amount: '20000.5', expected_close_date: '2027-01-15' },
    patchExpect: { amount: '20000.50' },
    owner: 'owner_id',
    core: ['name', 'customer_id', 'pipeline_id', 'stage_id', 'amount', 'currency', 'expected_close_date', 'probability', 'status', 'lost_reason', 'owner_id'],
  },
  activities: {
    body: () => ({
      kind: 'visit', subject: `上门拜访 ${unique()}`, body: '介绍新产品线，客户有意向。', occurred_at: '2026-03-01T10:00:00Z',
      customer_id: customer.id, tags: [],
    }),
    required: 'subject',
    patch: { kind: 'meeting', body: '会议纪要已发送' },
    owner: 'owner_id',
    times: ['occurred_at'],
    core: ['kind', 'subject', 'body', 'occurred_at', 'customer_id', 'contact_id', 'lead_id', 'opportunity_id', 'owner_id'],
  },
  tasks: {
    body: () => ({
      subject: `发送报价单 ${unique()}`, due_at: '2026-04-01T09:30:00+08:00', status: 'open', customer_id: customer.id, tags: ['报价'],
    }),
    required: 'subject',
    patch: { subject: `修改报价单 ${unique()}`, due_at: '2026-04-02T09:30:00Z' },
    owner: 'assignee_id',
    times: ['due_at'],
    core: ['subject', 'due_at', 'status', 'assignee_id', 'customer_id', 'lead_id', 'opportunity_id'],
  },
};
const OBJECTS = Object.keys(SPECS);

before(async () => {
  owner = await signup();
  [ownerMember] = await listMembers(owner.access_token);
  customer = await createRecord(owner.access_token, 'customers', { name: `关联客户 ${unique()}` });
});

const call = (method, path, opts = {}) => api(method, path, { token: owner.access_token, ...opts });
const count = async (object) => Number((await sql(`SELECT count(*) FROM t_${owner.tenant.id}.${object}`))[0][0]);

// Asserts that `record` carries the values of `body` (times compared as instants).
function assertCarries(record, body, spec, expect = {}) {
  for (const [key, value] of Object.entries(body)) {
    if (key in expect) assert.deepEqual(record[key], expect[key], key);
    else if (spec.times?.includes(key)) assert.equal(Date.parse(record[key]), Date.parse(value), key);
    else assert.deepEqual(record[key], value, `${key} of ${JSON.stringify(record).slice(0, 300)}`);
  }
}

for (const object of OBJECTS) {
  const spec = SPECS[object];

  test(`${object}: POST answers 201 with the record, its bookkeeping fields and core fields`, async () => {
    const body = spec.body();
    const rec = await createRecord(owner.access_token, object, body);
    assertKeys(rec, [...BOOKKEEPING, ...spec.core], object);
    assert.equal(typeof rec.id, 'number');
    assert.equal(rec.version, 1);
    assertTime(rec.created_at, 'created_at');
    assertTime(rec.updated_at, 'updated_at');
    assert.equal(rec.created_at, rec.updated_at);
    assert.equal(rec.created_by, ownerMember.id);
    assert.equal(rec[spec.owner], ownerMember.id, `${spec.owner} defaults to the caller`);
    assert.deepEqual(rec.custom, {});
    assert.equal(rec.deleted_at, null);
    for (const k of Object.keys(rec)) assert.ok(!k.startsWith('_'), `internal column ${k} is not shown`);
    assertCarries(rec, body, spec, { ...spec.expect });
    for (const [k, v] of Object.entries(spec.defaults || {})) assert.deepEqual(rec[k], v, k);
  });

  test(`${object}: GET answers the stored record`, async () => {
    const rec = await createRecord(owner.access_token, object, spec.body());
    const got = expectStatus(await call('GET', `/api/v1/${object}/${rec.id}`), 200);
    const { summary, ...plain } = got;
    if (object === 'customers') assert.ok(summary, 'a customer carries its summary');
    else assert.equal(summary, undefined);
    assert.deepEqual(plain, rec);
  });

  test(`${object}: without ${spec.required} → 422 naming it, and nothing is stored`, async () => {
    const before = await count(object);
    const body = spec.body();
    delete body[spec.required];
    assertError(await call('POST', `/api/v1/${object}`, { body }), 422, 'validation_failed', { [spec.required]: 'required' });
    assertError(await call('POST', `/api/v1/${object}`, { body: { ...body, [spec.required]: '  ' } }), 422, 'validation_failed', { [spec.required]: 'required' });
    assert.equal(await count(object), before);
  });

  test(`${object}: PATCH with If-Match changes the given fields, bumps the version and keeps the rest`, async () => {
    const rec = await createRecord(owner.access_token, object, spec.body());
    const res = await call('PATCH', `/api/v1/${object}/${rec.id}`, { body: spec.patch, headers: { 'if-match': '1' } });
    const patched = expectStatus(res, 200);
    assert.equal(patched.version, 2);
    assert.ok(patched.updated_at > rec.updated_at, 'updated_at moves on');
    assert.equal(patched.created_at, rec.created_at);
    assertCarries(patched, spec.patch, spec, spec.patchExpect);
    for (const k of Object.keys(rec)) {
      if (!(k in spec.patch) && !['version', 'updated_at'].includes(k)) assert.deepEqual(patched[k], rec[k], `${k} is kept`);
    }
    const { summary, ...got } = expectStatus(await call('GET', `/api/v1/${object}/${rec.id}`), 200);
    assert.deepEqual(got, patched);
  });

  test(`${object}: the list answers {data, next_cursor} and holds the record`, async () => {
    const rec = await createRecord(owner.access_token, object, spec.body());
    const json = expectStatus(await call('GET', `/api/v1/${object}?limit=200`), 200);
    assert.ok(Array.isArray(json.data));
    assert.ok('next_cursor' in json);
    const found = json.data.find((r) => r.id === rec.id);
    assert.deepEqual(found, rec);
    assert.equal(json.data[0].id, rec.id, 'newest first by default');
  });

  test(`${object}: DELETE moves the record to the recycle bin; restore brings it back`, async () => {
    const rec = await createRecord(owner.access_token, object, spec.body());
    const del = await call('DELETE', `/api/v1/${object}/${rec.id}`);
    assert.equal(del.status, 204, del.text);
    assert.equal(del.text, '');
    assertError(await call('GET', `/api/v1/${object}/${rec.id}`), 404, 'not_found');
    const list = expectStatus(await call('GET', `/api/v1/${object}?limit=200`), 200).data;
    assert.ok(!list.some((r) => r.id === rec.id), 'a deleted record is not listed');
    assertError(await call('PATCH', `/api/v1/${object}/${rec.id}`, { body: spec.patch, headers: { 'if-match': '2' } }), 404, 'not_found');
    assertError(await call('DELETE', `/api/v1/${object}/${rec.id}`), 404, 'not_found');
    const [[deletedAt, deletedBy]] = await sql(`SELECT deleted_at IS NOT NULL, deleted_by FROM t_${owner.tenant.id}.${object} WHERE id = ${rec.id}`);
    assert.equal(deletedAt, 't', 'the row stays, marked deleted');
    assert.equal(Number(deletedBy), ownerMember.id);

    const restored = expectStatus(await call('POST', `/api/v1/${object}/${rec.id}/restore`), 200);
    assert.equal(restored.id, rec.id);
    assert.equal(restored.deleted_at, null);
    assert.equal(restored.version, 3);
    const { summary, ...got } = expectStatus(await call('GET', `/api/v1/${object}/${rec.id}`), 200);
    assert.deepEqual(got, restored);
    assertError(await call('POST', `/api/v1/${object}/${rec.id}/restore`), 404, 'not_found');
    const relisted = expectStatus(await call('GET', `/api/v1/${object}?limit=200`), 200).data;
    assert.ok(relisted.some((r) => r.id === rec.id), 'a restored record is listed again');
  });

  test(`${object}: history lists create, update, delete and restore, newest first, with the actor`, async () => {
    const rec = await createRecord(owner.access_token, object, spec.body());
    const patched = expectStatus(await call('PATCH', `/api/v1/${object}/${rec.id}`, { body: { ...spec.patch, version: 1 } }), 200);
    assert.equal((await call('DELETE', `/api/v1/${object}/${rec.id}`)).status, 204);
    expectStatus(await call('POST', `/api/v1/${object}/${rec.id}/restore`), 200);
    const json = expectStatus(await call('GET', `/api/v1/${object}/${rec.id}/history`), 200);
    assert.equal(json.next_cursor, null);
    const n = Object.keys(spec.patch).length;
    assert.deepEqual(json.data.map((e) => e.action), ['restore', 'delete', ...Array(n).fill('update'), 'create']);
    for (const e of json.data) {
      assertKeys(e, ['id', 'at', 'actor', 'action', 'field', 'old', 'new'], 'history entry');
      assert.deepEqual(e.actor, { id: ownerMember.id, name: owner.user.name });
      assertTime(e.at, 'at');
    }
    const ids = json.data.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort((x, y) => y - x), 'newest first');
    const updates = json.data.filter((e) => e.action === 'update');
    assert.deepEqual(updates.map((e) => e.field).sort(), Object.keys(spec.patch).sort());
    for (const e of updates) {
      // money is compared as a number here; its string form has a test of its own
      const same = (a, b) => (spec.times?.includes(e.field) ? Date.parse(a) === Date.parse(b)
        : e.field === 'amount' ? Number(a) === Number(b) : String(a) === String(b));
      assert.ok(same(e.old, rec[e.field]), `old ${e.field}: ${JSON.stringify(e.old)} vs ${JSON.stringify(rec[e.field])}`);
      assert.ok(same(e.new, patched[e.field]), `new ${e.field}: ${JSON.stringify(e.new)} vs ${JSON.stringify(patched[e.field])}`);
    }
    const created = json.data.at(-1);
    assert.equal(created.field, null);
    assert.equal(created.new?.id, rec.id, 'the create entry carries the new record');
  });

  test(`${object}: an unknown or malformed id answers 404 on every route`, async () => {
    for (const id of ['999999999', '0', 'abc', '-1', '1.5']) {
      assertError(await call('GET', `/api/v1/${object}/${id}`), 404, 'not_found');
      assertError(await call('PATCH', `/api/v1/${object}/${id}`, { body: spec.patch, headers: { 'if-match': '1' } }), 404, 'not_found');
      assertError(await call('DELETE', `/api/v1/${object}/${id}`), 404, 'not_found');
      assertError(await call('POST', `/api/v1/${object}/${id}/restore`), 404, 'not_found');
      assertError(await call('GET', `/api/v1/${object}/${id}/history`), 404, 'not_found');
    }
  });

  test(`${object}: every route needs a token (401) and nothing changes without one`, async () => {
    const rec = await createRecord(owner.access_token, object, spec.body());
    const base = `/api/v1/${object}`;
    assertError(await api('GET', base), 401, 'unauthorized');
    assertError(await api('POST', base, { body: spec.body() }), 401, 'unauthorized');
    assertError(await api('GET', `${base}/${rec.id}`), 401, 'unauthorized');
    assertError(await api('PATCH', `${base}/${rec.id}`, { body: spec.patch, headers: { 'if-match': '1' } }), 401, 'unauthorized');
    assertError(await api('DELETE', `${base}/${rec.id}`), 401, 'unauthorized');
    assertError(await api('POST', `${base}/${rec.id}/restore`), 401, 'unauthorized');
    assertError(await api('GET', `${base}/${rec.id}/history`), 401, 'unauthorized');
    assertError(await api('GET', `${base}/${rec.id}`, { token: 'not-a-token' }), 401, 'unauthorized');
    const { summary, ...got } = expectStatus(await call('GET', `${base}/${rec.id}`), 200);
    assert.deepEqual(got, rec);
  });
}

test('history pages with limit and cursor, newest first, without gaps or repeats', async () => {
  const rec = await createRecord(owner.access_token, 'leads', { name: `翻页线索 ${unique()}` });
  for (let v = 1; v <= 4; v++) {
    expectStatus(await call('PATCH', `/api/v1/leads/${rec.id}`, { body: { score: v * 10 }, headers: { 'if-match': String(v) } }), 200);
  }
  const all = expectStatus(await call('GET', `/api/v1/leads/${rec.id}/history`), 200).data;
  assert.equal(all.length, 5);
  const paged = [];
  let cursor = null;
  for (let i = 0; i < 10; i++) {
    const json = expectStatus(await call('GET', `/api/v1/leads/${rec.id}/history?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`), 200);
    assert.ok(json.data.length <= 2);
    paged.push(...json.data);
    cursor = json.next_cursor;
    if (!cursor) break;
  }
  assert.deepEqual(paged.map((e) => e.id), all.map((e) => e.id));
  assert.deepEqual(all.map((e) => e.new).slice(0, 4), [40, 30, 20, 10]);
});

test('history shows money as a decimal string, as records do', async () => {
  const opp = await createRecord(owner.access_token, 'opportunities', { name: `金额历史 ${unique()}`, customer_id: customer.id, amount: '100.50' });
  expectStatus(await call('PATCH', `/api/v1/opportunities/${opp.id}`, { body: { amount: '200' }, headers: { 'if-match': '1' } }), 200);
  const [entry] = expectStatus(await call('GET', `/api/v1/opportunities/${opp.id}/history?limit=1`), 200).data;
  assert.equal(entry.field, 'amount');
  assert.deepEqual([entry.old, entry.new], ['100.50', '200.00'], `history entry: ${JSON.stringify(entry)}`);
});

test('customers: GET adds the 360° summary (owner, primary contact, open opportunities, last activity, next task)', async () => {
  const c = await createRecord(owner.access_token, 'customers', { name: `三六零客户 ${unique()}` });
  let got = expectStatus(await call('GET', `/api/v1/customers/${c.id}`), 200);
  assert.deepEqual(got.summary, {
    owner: { id: ownerMember.id, name: owner.user.name }, primary_contact: null,
    open_opportunities: { count: 0, amount: '0.00' }, last_activity: null, next_task: null,
  });
  const contact = await createRecord(owner.access_token, 'contacts', { name: '赵敏', customer_id: c.id, is_primary: true });
  await createRecord(owner.access_token, 'opportunities', { name: '一期', customer_id: c.id, amount: '100.10' });
  await createRecord(owner.access_token, 'opportunities', { name: '二期', customer_id: c.id, amount: 200 });
  const act = await createRecord(owner.access_token, 'activities', { kind: 'call', subject: '电话回访', customer_id: c.id });
  const task = await createRecord(owner.access_token, 'tasks', { subject: '寄送样品', customer_id: c.id, due_at: '2026-05-01T00:00:00Z' });
  got = expectStatus(await call('GET', `/api/v1/customers/${c.id}`), 200);
  assert.equal(got.summary.primary_contact?.id, contact.id);
  assert.deepEqual(got.summary.open_opportunities, { count: 2, amount: '300.10' });
  assert.equal(got.summary.last_activity?.id, act.id);
  assert.equal(got.summary.next_task?.id, task.id);
  const list = expectStatus(await call('GET', '/api/v1/customers?limit=200'), 200).data;
  assert.equal(list.find((r) => r.id === c.id).summary, undefined, 'lists carry no summary');
});

test('tasks: status done sets completed_at; reopening clears it', async () => {
  const t = await createRecord(owner.access_token, 'tasks', { subject: `回访 ${unique()}` });
  assert.equal(t.status, 'open');
  assert.equal(t.completed_at, null);
  const done = expectStatus(await call('PATCH', `/api/v1/tasks/${t.id}`, { body: { status: 'done', version: 1 } }), 200);
  assertTime(done.completed_at, 'completed_at');
  const reopened = expectStatus(await call('PATCH', `/api/v1/tasks/${t.id}`, { body: { status: 'open', version: 2 } }), 200);
  assert.equal(reopened.completed_at, null);
});

test('contacts: a new primary contact makes the customer\'s former primary contact non-primary', async () => {
  const c = await createRecord(owner.access_token, 'customers', { name: `主联系人客户 ${unique()}` });
  const first = await createRecord(owner.access_token, 'contacts', { name: '甲', customer_id: c.id, is_primary: true });
  const second = await createRecord(owner.access_token, 'contacts', { name: '乙', customer_id: c.id, is_primary: true });
  assert.equal(second.is_primary, true);
  const got = expectStatus(await call('GET', `/api/v1/contacts/${first.id}`), 200);
  assert.equal(got.is_primary, false);
  assert.equal(got.version, 2, 'the change bumps its version');
});

test('POST honours Idempotency-Key: the same key answers the first record and creates one', async () => {
  const key = `rec-${unique()}`;
  const body = { name: `幂等客户 ${unique()}` };
  const headers = { 'Idempotency-Key': key };
  const first = expectStatus(await call('POST', '/api/v1/customers', { body, headers }), 201);
  const again = await call('POST', '/api/v1/customers', { body, headers });
  expectStatus(again, 201);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(again.json, first);
  const [[n]] = await sql(`SELECT count(*) FROM t_${owner.tenant.id}.customers WHERE name = '${body.name}'`);
  assert.equal(n, '1');
});

/* ---------- bad bodies ---------- */

testBadBodies('POST /customers', {
  path: '/api/v1/customers',
  token: () => owner.access_token,
  body: { name: `坏请求客户 ${unique()}` },
});
testBadBodies('PATCH /customers/{id}', {
  method: 'PATCH',
  path: () => `/api/v1/customers/${customer.id}`,
  token: () => owner.access_token,
  body: { level: 'C' },
});

test('bad bodies on POST and PATCH of every object answer the error shape and change nothing', async () => {
  const recs = {};
  for (const object of OBJECTS) recs[object] = await createRecord(owner.access_token, object, SPECS[object].body());
  const state = async () => sql(`SELECT (SELECT coalesce(max(id), 0) FROM t_${owner.tenant.id}.outbox), (SELECT coalesce(max(id), 0) FROM t_${owner.tenant.id}.audit_log),
    ${OBJECTS.map((o) => `(SELECT count(*) || ':' || max(version) FROM t_${owner.tenant.id}.${o})`).join(', ')}`);
  const before = await state();
  const cases = [
    [{ raw: '{"name": "半截",' }, 400, 'invalid_json'],
    [{ raw: '[{"name": "数组"}]' }, 400, 'invalid_json'],
    [{ raw: '"name"' }, 400, 'invalid_json'],
    [{ raw: '7' }, 400, 'invalid_json'],
    [{ raw: 'null' }, 400, 'invalid_json'],
    [{ raw: JSON.stringify({ name: 'x', subject: 'x', pad: 'x'.repeat(MiB) }) }, 413, 'payload_too_large'],
    [{ raw: JSON.stringify({ name: 'x', subject: 'x' }), headers: { 'content-type': 'text/plain' } }, 415, 'unsupported_media_type'],
    [{ raw: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'unsupported_media_type'],
  ];
  for (const object of OBJECTS) {
    for (const [opts, status, code] of cases) {
      assertError(await call('POST', `/api/v1/${object}`, opts), status, code);
      assertError(await call('PATCH', `/api/v1/${object}/${recs[object].id}`, { ...opts, headers: { 'if-match': '1', ...opts.headers } }), status, code);
    }
  }
  assert.deepEqual(await state(), before);
});
