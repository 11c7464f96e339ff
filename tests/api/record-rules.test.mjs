// The record engine's rules: validation of every field type (core and custom),
// required, read-only and unknown fields; versions (If-Match, body version,
// stale and concurrent PATCHes); history and the outbox written in the same
// transaction; opportunity stages, follow-up time, duplicate customers; record
// scope by role; field-level security; unique custom fields; tenant isolation.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  addCustomField, addMember, api, assertError, assertTime, createRecord, expectStatus, listMembers, patchMember, psql,
  setFieldAccess, signup, sql, unique,
} from './lib.mjs';

let owner; // tenant T: validation, versions, outbox, stages, duplicates, scope
let ownerMember;
let manager;
let sales1; // reports to manager
let sales2;
let reader; // role read-only
let fsOwner; // tenant F: field security and custom fields
let fsSales;
let fsCustomer; // owned by fsSales; phone and secret set by the owner
let tenantB; // never has a record: every id of T is unknown to it
let tFirst; // T's first customer (id 1, like F's first)

const OBJECTS = ['customers', 'contacts', 'leads', 'opportunities', 'activities', 'tasks'];

const post = (token, object, body) => api('POST', `/api/v1/${object}`, { token, body });
const get = (token, object, id) => api('GET', `/api/v1/${object}/${id}`, { token });
const patch = (token, object, id, body, version) => api('PATCH', `/api/v1/${object}/${id}`, {
  token, body, headers: version === undefined ? {} : { 'if-match': String(version) },
});
const del = (token, object, id) => api('DELETE', `/api/v1/${object}/${id}`, { token });
const restore = (token, object, id) => api('POST', `/api/v1/${object}/${id}/restore`, { token });
const history = (token, object, id) => api('GET', `/api/v1/${object}/${id}/history`, { token });
const listIds = async (token, object, params = {}) => expectStatus(
  await api('GET', `/api/v1/${object}?${new URLSearchParams({ limit: '200', ...params })}`, { token }), 200,
).data.map((r) => r.id);
const plain = (rec) => { const { summary, ...rest } = rec; return rest; };
const customerName = (what = '客户') => `${what} ${unique()}`;
const mobile = () => `137${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;

// SQL answering JSON rows (psql's own output is split on '|' by sql()).
async function sqlRows(tenantId, query) {
  const res = await psql(`SELECT coalesce(json_agg(x), '[]') FROM (${query.replaceAll('$s', `t_${tenantId}`)}) x`);
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout);
}

// The newest audit and outbox row ids of a tenant: a mark to look for writes after.
async function writes(tenantId) {
  const [[audit, outbox]] = await sql(`SELECT (SELECT coalesce(max(id), 0) FROM t_${tenantId}.audit_log), (SELECT coalesce(max(id), 0) FROM t_${tenantId}.outbox)`);
  return { audit: Number(audit), outbox: Number(outbox) };
}

// Asserts that no audit entry and no outbox event was written after the mark.
async function assertNoWrites(tenantId, mark) {
  const rows = await sqlRows(tenantId, `SELECT 'audit' AS t, action AS what FROM $s.audit_log WHERE id > ${mark.audit}
    UNION ALL SELECT 'outbox', event FROM $s.outbox WHERE id > ${mark.outbox}`);
  assert.deepEqual(rows, [], 'no audit entry or outbox event was written');
}

before(async () => {
  // one at a time: a sign-up provisions a schema, and a loaded stack serializes them
  owner = await signup();
  fsOwner = await signup();
  tenantB = await signup();
  const setupT = async () => {
    [ownerMember] = await listMembers(owner.access_token);
    tFirst = await createRecord(owner.access_token, 'customers', { name: customerName('甲方第一个客户') });
    [manager, sales1, sales2, reader] = await Promise.all([
      addMember(owner.access_token, { role: 'manager', name: '经理王' }),
      addMember(owner.access_token, { role: 'sales', name: '销售一' }),
      addMember(owner.access_token, { role: 'sales', name: '销售二' }),
      addMember(owner.access_token, { role: 'read-only', name: '只读赵' }),
    ]);
    expectStatus(await patchMember(owner.access_token, sales1.member.id, { manager_id: manager.member.id }), 200);
  };
  const setupF = async () => {
    await setupFieldSecurity();
    await setupCustomFields();
  };
  await Promise.all([setupT(), setupF()]);
});

/* ---------- validation of core fields ---------- */

async function expectInvalid(token, object, body, fields, version) {
  const res = version === undefined ? await post(token, object, body) : await patch(token, object, body.id, body.body, version);
  assertError(res, 422, 'validation_failed', fields);
  return res;
}

// [object, body, field, reason]: one bad value each; the rest of the body is valid.
const CORE_CASES = () => [
  // text
  ['customers', { name: 123 }, 'name', 'invalid_type'],
  ['customers', { name: '长'.repeat(201) }, 'name', 'too_long'],
  ['customers', { name: customerName(), industry: 'x'.repeat(101) }, 'industry', 'too_long'],
  ['customers', { name: customerName(), address: ['深圳'] }, 'address', 'invalid_type'],
  ['opportunities', { name: '币种', customer_id: 1, currency: 'usd' }, 'currency', 'invalid_format'],
  // textarea
  ['activities', { kind: 'note', subject: 's', body: 42 }, 'body', 'invalid_type'],
  ['activities', { kind: 'note', subject: 's', body: 'x'.repeat(20001) }, 'body', 'too_long'],
  // number
  ['leads', { name: '线索', score: 'ten' }, 'score', 'invalid_type'],
  ['leads', { name: '线索', score: true }, 'score', 'invalid_type'],
  ['leads', { name: '线索', score: 1.5 }, 'score', 'not_integer'],
  ['leads', { name: '线索', score: 100001 }, 'score', 'out_of_range'],
  ['leads', { name: '线索', score: -100001 }, 'score', 'out_of_range'],
  ['opportunities', { name: '赢率', customer_id: 1, probability: 101 }, 'probability', 'out_of_range'],
  ['opportunities', { name: '赢率', customer_id: 1, probability: -1 }, 'probability', 'out_of_range'],
  // money
  ['opportunities', { name: '金额', customer_id: 1, amount: 'abc' }, 'amount', 'invalid_format'],
  ['opportunities', { name: '金额', customer_id: 1, amount: '1.234' }, 'amount', 'invalid_format'],
  ['opportunities', { name: '金额', customer_id: 1, amount: '12,500' }, 'amount', 'invalid_format'],
  ['opportunities', { name: '金额', customer_id: 1, amount: true }, 'amount', 'invalid_format'],
  ['opportunities', { name: '金额', customer_id: 1, amount: '1234567890123456' }, 'amount', 'invalid_format'],
  // date
  ['contacts', { name: '联系人', birthday: '1990-02-30' }, 'birthday', 'invalid_date'],
  ['contacts', { name: '联系人', birthday: '1990/01/01' }, 'birthday', 'invalid_date'],
  ['contacts', { name: '联系人', birthday: 19900101 }, 'birthday', 'invalid_date'],
  ['opportunities', { name: '日期', customer_id: 1, expected_close_date: '2026-13-01' }, 'expected_close_date', 'invalid_date'],
  // datetime
  ['tasks', { subject: '任务', due_at: '2026-01-01' }, 'due_at', 'invalid_datetime'],
  ['tasks', { subject: '任务', due_at: '2026-01-01T25:00:00Z' }, 'due_at', 'invalid_datetime'],
  ['tasks', { subject: '任务', due_at: '2026-01-01T10:00:00' }, 'due_at', 'invalid_datetime'],
  ['tasks', { subject: '任务', due_at: 'tomorrow' }, 'due_at', 'invalid_datetime'],
  ['activities', { kind: 'call', subject: 's', occurred_at: 1767225600 }, 'occurred_at', 'invalid_datetime'],
  // bool
  ['contacts', { name: '联系人', is_primary: 'yes' }, 'is_primary', 'invalid_type'],
  ['contacts', { name: '联系人', is_primary: 1 }, 'is_primary', 'invalid_type'],
  // select
  ['customers', { name: customerName(), kind: 'alien' }, 'kind', 'invalid_option'],
  ['customers', { name: customerName(), kind: 1 }, 'kind', 'invalid_type'],
  ['leads', { name: '线索', status: 'converted' }, 'status', 'invalid_option'],
  ['tasks', { subject: '任务', priority: 'urgent' }, 'priority', 'invalid_option'],
  ['activities', { kind: 'fax', subject: 's' }, 'kind', 'invalid_option'],
  // user
  ['customers', { name: customerName(), owner_id: 999999 }, 'owner_id', 'invalid_member'],
  ['customers', { name: customerName(), owner_id: '1' }, 'owner_id', 'invalid_member'],
  ['tasks', { subject: '任务', assignee_id: 1.5 }, 'assignee_id', 'invalid_member'],
  // ref
  ['contacts', { name: '联系人', customer_id: 999999 }, 'customer_id', 'not_found'],
  ['contacts', { name: '联系人', customer_id: 'abc' }, 'customer_id', 'invalid_type'],
  ['opportunities', { name: '引用', customer_id: -1 }, 'customer_id', 'invalid_type'],
  ['activities', { kind: 'call', subject: 's', lead_id: 999999 }, 'lead_id', 'not_found'],
  // phone
  ['customers', { name: customerName(), phone: 'abc' }, 'phone', 'invalid_phone'],
  ['customers', { name: customerName(), phone: '12' }, 'phone', 'invalid_phone'],
  ['customers', { name: customerName(), phone: '+-()' }, 'phone', 'invalid_phone'],
  ['contacts', { name: '联系人', mobile: '1'.repeat(33) }, 'mobile', 'invalid_phone'],
  // email
  ['customers', { name: customerName(), email: 'not-an-email' }, 'email', 'invalid_email'],
  ['customers', { name: customerName(), email: 'a@b' }, 'email', 'invalid_email'],
  ['leads', { name: '线索', email: 'a b@c.com' }, 'email', 'invalid_email'],
  // url
  ['customers', { name: customerName(), website: 'not a url' }, 'website', 'invalid_url'],
  ['customers', { name: customerName(), website: 'localhost' }, 'website', 'invalid_url'],
  ['customers', { name: customerName(), website: 'ftp://example.com' }, 'website', 'invalid_url'],
];

test('every core field type: a bad value on POST answers 422 naming the field with the reason, and nothing is stored', async () => {
  const t = owner.access_token;
  const base = await createRecord(t, 'customers', { name: customerName('校验基准') });
  const before = await writes(owner.tenant.id);
  for (const [object, body, field, reason] of CORE_CASES()) {
    if (body.customer_id === 1) body.customer_id = base.id;
    const res = await post(t, object, body);
    assert.equal(res.status, 422, `${object} ${JSON.stringify(body).slice(0, 80)}: ${res.status} ${res.text.slice(0, 200)}`);
    assertError(res, 422, 'validation_failed', { [field]: reason });
  }
  await assertNoWrites(owner.tenant.id, before);
});

test('every core field type: a bad value on PATCH answers 422 naming the field, and the record is unchanged', async () => {
  const t = owner.access_token;
  const c = await createRecord(t, 'customers', { name: customerName('补丁校验') });
  const cases = [
    [{ name: 5 }, 'name', 'invalid_type'], [{ kind: 'alien' }, 'kind', 'invalid_option'], [{ phone: 'abc' }, 'phone', 'invalid_phone'],
    [{ email: 'x@' }, 'email', 'invalid_email'], [{ website: 'a b' }, 'website', 'invalid_url'], [{ owner_id: 999999 }, 'owner_id', 'invalid_member'],
    [{ name: '' }, 'name', 'required'], [{ name: null }, 'name', 'required'],
  ];
  for (const [body, field, reason] of cases) assertError(await patch(t, 'customers', c.id, body, 1), 422, 'validation_failed', { [field]: reason });
  assert.deepEqual(plain(expectStatus(await get(t, 'customers', c.id), 200)), c);
});

test('a body with several bad fields names every one of them', async () => {
  const res = await post(owner.access_token, 'customers', { name: 1, email: 'x', phone: 'y', kind: 'z', website: 'w w', nope: 1 });
  assertError(res, 422, 'validation_failed', {
    name: 'invalid_type', email: 'invalid_email', phone: 'invalid_phone', kind: 'invalid_option', website: 'invalid_url', nope: 'unknown_field',
  });
});

test('ref and user fields refuse a deleted record and a disabled member', async () => {
  const t = owner.access_token;
  const gone = await createRecord(t, 'customers', { name: customerName('已删除') });
  assert.equal((await del(t, 'customers', gone.id)).status, 204);
  assertError(await post(t, 'contacts', { name: '联系人', customer_id: gone.id }), 422, 'validation_failed', { customer_id: 'not_found' });
  const leaver = await addMember(t, { role: 'sales', name: '离职' });
  expectStatus(await patchMember(t, leaver.member.id, { status: 'disabled' }), 200);
  assertError(await post(t, 'customers', { name: customerName(), owner_id: leaver.member.id }), 422, 'validation_failed', { owner_id: 'invalid_member' });
});

test('valid values are stored normalized: trimmed text, lower-case e-mail, money with 2 decimals, UTC times, distinct tags', async () => {
  const t = owner.access_token;
  const name = customerName('规范化');
  const c = await createRecord(t, 'customers', { name: `  ${name}  `, email: ' Info@Example.COM ', tags: ['vip', ' vip ', '重点'] });
  assert.equal(c.name, name);
  assert.equal(c.email, 'info@example.com');
  assert.deepEqual([...c.tags].sort(), ['vip', '重点'].sort());
  const o = await createRecord(t, 'opportunities', { name: '规范化商机', customer_id: c.id, amount: 12.5 });
  assert.equal(o.amount, '12.50');
  const task = await createRecord(t, 'tasks', { subject: '规范化任务', due_at: '2026-01-01T10:00:00+08:00' });
  assertTime(task.due_at, 'due_at');
  assert.equal(Date.parse(task.due_at), Date.parse('2026-01-01T02:00:00Z'));
});

test('null or "" for a field that has a default (kind, status, priority, score, is_primary, occurred_at) is refused with 422 or gets the default, never 500', async () => {
  const t = owner.access_token;
  const cases = [
    ['customers', { name: customerName(), kind: null }, 'kind', 'company'],
    ['customers', { name: customerName(), kind: '' }, 'kind', 'company'],
    ['tasks', { subject: '空状态', status: null }, 'status', 'open'],
    ['tasks', { subject: '空优先级', priority: null }, 'priority', 'normal'],
    ['leads', { name: '空状态线索', status: null }, 'status', 'new'],
    ['leads', { name: '空评分线索', score: null }, 'score', 0],
    ['contacts', { name: '空主联系人', is_primary: null }, 'is_primary', false],
    ['activities', { kind: 'call', subject: '空时间', occurred_at: null }, 'occurred_at', undefined],
  ];
  const failures = [];
  for (const [object, body, field, dflt] of cases) {
    const res = await post(t, object, body);
    const ok = (res.status === 422 && res.json?.error?.fields?.[field])
      || (res.status === 201 && (dflt === undefined ? res.json[field] !== null : res.json[field] === dflt));
    if (!ok) failures.push(`POST /${object} ${JSON.stringify(body)} → ${res.status} ${res.text.slice(0, 80)}`);
  }
  const c = await createRecord(t, 'customers', { name: customerName('空类型') });
  const res = await patch(t, 'customers', c.id, { kind: null }, 1);
  if (!(res.status === 422 && res.json?.error?.fields?.kind) && !(res.status === 200 && res.json.kind !== null)) {
    failures.push(`PATCH /customers/{id} {"kind":null} → ${res.status} ${res.text.slice(0, 80)}`);
  }
  assert.deepEqual(failures, []);
});

/* ---------- required, read-only and unknown fields ---------- */

test('required fields: missing, null, empty or blank answers 422 required on POST and PATCH', async () => {
  const t = owner.access_token;
  assertError(await post(t, 'customers', {}), 422, 'validation_failed', { name: 'required' });
  assertError(await post(t, 'customers', { name: null }), 422, 'validation_failed', { name: 'required' });
  assertError(await post(t, 'opportunities', {}), 422, 'validation_failed', { name: 'required', customer_id: 'required' });
  assertError(await post(t, 'activities', {}), 422, 'validation_failed', { kind: 'required', subject: 'required' });
  assertError(await post(t, 'tasks', { subject: '    ' }), 422, 'validation_failed', { subject: 'required' });
  const l = await createRecord(t, 'leads', { name: '必填线索' });
  assertError(await patch(t, 'leads', l.id, { name: '   ' }, 1), 422, 'validation_failed', { name: 'required' });
  const o = await createRecord(t, 'opportunities', { name: '必填商机', customer_id: (await createRecord(t, 'customers', { name: customerName() })).id });
  assertError(await patch(t, 'opportunities', o.id, { customer_id: null }, 1), 422, 'validation_failed', { customer_id: 'required' });
  assert.equal(expectStatus(await get(t, 'leads', l.id), 200).version, 1);
});

test('a value of only tabs, newlines or ideographic spaces (U+3000) is blank: required answers 422', async () => {
  const t = owner.access_token;
  const failures = [];
  for (const blank of ['\t', ' \n ', '\r\n', '\u3000\u3000']) {
    const res = await post(t, 'tasks', { subject: blank });
    if (res.status !== 422 || res.json?.error?.fields?.subject !== 'required') {
      failures.push(`POST /tasks {"subject":${JSON.stringify(blank)}} → ${res.status} subject=${JSON.stringify(res.json?.subject)}`);
    }
  }
  assert.deepEqual(failures, []);
});

test('system fields are read-only on POST and PATCH (422 read_only) and stay unchanged', async () => {
  const t = owner.access_token;
  const c = await createRecord(t, 'customers', { name: customerName('只读字段') });
  const o = await createRecord(t, 'opportunities', { name: '只读商机', customer_id: c.id });
  const task = await createRecord(t, 'tasks', { subject: '只读任务' });
  const lead = await createRecord(t, 'leads', { name: '只读线索' });
  const now = new Date().toISOString();
  const cases = [
    ['customers', c, { id: 999 }, 'id'], ['customers', c, { created_at: now }, 'created_at'], ['customers', c, { updated_at: now }, 'updated_at'],
    ['customers', c, { created_by: ownerMember.id }, 'created_by'], ['customers', c, { deleted_at: now }, 'deleted_at'],
    ['customers', c, { deleted_by: ownerMember.id }, 'deleted_by'], ['customers', c, { in_pool: true }, 'in_pool'],
    ['customers', c, { last_followed_at: now }, 'last_followed_at'],
    ['opportunities', o, { status: 'won' }, 'status'], ['opportunities', o, { closed_at: now }, 'closed_at'],
    ['tasks', task, { completed_at: now }, 'completed_at'],
    ['leads', lead, { converted_at: now }, 'converted_at'], ['leads', lead, { converted_customer_id: c.id }, 'converted_customer_id'],
  ];
  const base = { customers: { name: customerName() }, opportunities: { name: 'x', customer_id: c.id }, tasks: { subject: 'x' }, leads: { name: 'x' } };
  for (const [object, rec, body, field] of cases) {
    assertError(await post(t, object, { ...base[object], ...body }), 422, 'validation_failed', { [field]: 'read_only' });
    assertError(await patch(t, object, rec.id, body, 1), 422, 'validation_failed', { [field]: 'read_only' });
    assert.deepEqual(plain(expectStatus(await get(t, object, rec.id), 200)), rec, `${object} unchanged after writing ${field}`);
  }
});

test('unknown fields and malformed tags, custom or force answer 422 naming them', async () => {
  const t = owner.access_token;
  const name = customerName();
  const cases = [
    [{ name, nickname: 'x' }, { nickname: 'unknown_field' }],
    [{ name, _search: 'x' }, { _search: 'unknown_field' }],
    [{ name, summary: {} }, { summary: 'unknown_field' }],
    [{ name, subject: 'x' }, { subject: 'unknown_field' }],
    [{ name, custom: { nope: 1 } }, { nope: 'unknown_field' }],
    [{ name, custom: 'x' }, { custom: 'invalid_type' }],
    [{ name, custom: [] }, { custom: 'invalid_type' }],
    [{ name, tags: 'vip' }, { tags: 'invalid_value' }],
    [{ name, tags: [''] }, { tags: 'invalid_value' }],
    [{ name, tags: [1] }, { tags: 'invalid_value' }],
    [{ name, tags: ['x'.repeat(51)] }, { tags: 'invalid_value' }],
    [{ name, tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, { tags: 'invalid_value' }],
    [{ name, force: 'yes' }, { force: 'invalid_type' }],
  ];
  for (const [body, fields] of cases) assertError(await post(t, 'customers', body), 422, 'validation_failed', fields);
  assert.deepEqual(await listIds(t, 'customers', { q: name.split(' ')[1] }), []);
});

/* ---------- versions ---------- */

test('PATCH takes the version as If-Match (3, "3", W/"3") or in the body', async () => {
  const t = owner.access_token;
  const l = await createRecord(t, 'leads', { name: '版本线索' });
  let v = expectStatus(await patch(t, 'leads', l.id, { score: 1 }, '1'), 200).version;
  assert.equal(v, 2);
  v = expectStatus(await patch(t, 'leads', l.id, { score: 2 }, '"2"'), 200).version;
  assert.equal(v, 3);
  v = expectStatus(await patch(t, 'leads', l.id, { score: 3 }, 'W/"3"'), 200).version;
  assert.equal(v, 4);
  const rec = expectStatus(await patch(t, 'leads', l.id, { score: 4, version: 4 }), 200);
  assert.deepEqual([rec.version, rec.score], [5, 4]);
});

test('PATCH without a version answers 422 version required; a malformed one 400 or 422; nothing changes', async () => {
  const t = owner.access_token;
  const l = await createRecord(t, 'leads', { name: '无版本线索' });
  assertError(await patch(t, 'leads', l.id, { score: 9 }), 422, 'validation_failed', { version: 'required' });
  for (const version of ['1', 0, 1.5, null, true]) {
    assertError(await patch(t, 'leads', l.id, { score: 9, version }), 422, 'validation_failed', { version: 'invalid_type' });
  }
  for (const h of ['abc', '-1', '1,2', '"1']) assertError(await patch(t, 'leads', l.id, { score: 9 }, h), 400, 'bad_request');
  assert.deepEqual(plain(expectStatus(await get(t, 'leads', l.id), 200)), l);
});

test('a stale version answers 412 version_conflict and changes nothing (record, history, outbox)', async () => {
  const t = owner.access_token;
  const c = await createRecord(t, 'customers', { name: customerName('过期版本') });
  const current = expectStatus(await patch(t, 'customers', c.id, { level: 'A' }, 1), 200);
  const before = await writes(owner.tenant.id);
  assertError(await patch(t, 'customers', c.id, { level: 'B' }, 1), 412, 'version_conflict');
  assertError(await patch(t, 'customers', c.id, { level: 'B', version: 1 }), 412, 'version_conflict');
  assertError(await patch(t, 'customers', c.id, { level: 'B' }, 99), 412, 'version_conflict');
  assertError(await patch(t, 'customers', c.id, { level: 'B', name: '' }, 1), 412, 'version_conflict');
  assert.deepEqual(plain(expectStatus(await get(t, 'customers', c.id), 200)), current);
  await assertNoWrites(owner.tenant.id, before);
});

test('two concurrent PATCHes on one version: exactly one 200 and one 412; the winner\'s value stays', async () => {
  const t = owner.access_token;
  for (let round = 0; round < 3; round++) {
    const c = await createRecord(t, 'customers', { name: customerName('并发') });
    const [a, b] = await Promise.all([
      patch(t, 'customers', c.id, { level: 'A' }, 1),
      patch(t, 'customers', c.id, { level: 'B' }, 1),
    ]);
    const statuses = [a.status, b.status].sort();
    assert.deepEqual(statuses, [200, 412], `got ${a.status} ${a.text.slice(0, 80)} / ${b.status} ${b.text.slice(0, 80)}`);
    const [win, lose] = a.status === 200 ? [a, b] : [b, a];
    assertError(lose, 412, 'version_conflict');
    const got = expectStatus(await get(t, 'customers', c.id), 200);
    assert.equal(got.version, 2);
    assert.equal(got.level, win.json.level);
    const updates = expectStatus(await history(t, 'customers', c.id), 200).data.filter((e) => e.action === 'update');
    assert.equal(updates.length, 1, 'one change in the history');
  }
});

test('many concurrent PATCHes on one version: exactly one wins', async () => {
  const t = owner.access_token;
  const l = await createRecord(t, 'leads', { name: '多路并发' });
  const results = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => patch(t, 'leads', l.id, { score: n }, 1)));
  const statuses = results.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 412, 412, 412, 412, 412]);
  const got = expectStatus(await get(t, 'leads', l.id), 200);
  assert.equal(got.version, 2);
  assert.equal(got.score, results.find((r) => r.status === 200).json.score);
});

test('a PATCH that changes nothing keeps the version and writes no history or outbox', async () => {
  const t = owner.access_token;
  const c = await createRecord(t, 'customers', { name: customerName('无变化'), level: 'A' });
  const before = await writes(owner.tenant.id);
  const same = expectStatus(await patch(t, 'customers', c.id, { level: 'A', name: c.name }, 1), 200);
  assert.equal(same.version, 1);
  await assertNoWrites(owner.tenant.id, before);
});

/* ---------- history and outbox ---------- */

test('history names each changed field with old and new, and the actor; deleted records keep their history', async () => {
  const t = owner.access_token;
  const c = await createRecord(t, 'customers', { name: customerName('历史'), level: 'A' });
  expectStatus(await patch(t, 'customers', c.id, { level: 'B', region: '西南', phone: '023-6666 8888' }, 1), 200);
  assert.equal((await del(t, 'customers', c.id)).status, 204);
  const entries = expectStatus(await history(t, 'customers', c.id), 200).data;
  assert.equal(entries[0].action, 'delete');
  const byField = Object.fromEntries(entries.filter((e) => e.action === 'update').map((e) => [e.field, [e.old, e.new]]));
  assert.deepEqual(byField, { level: ['A', 'B'], region: [null, '西南'], phone: [null, '023-6666 8888'] });
  for (const e of entries) assert.deepEqual(e.actor, { id: ownerMember.id, name: owner.user.name });
});

test('outbox: create, update, delete and restore each write one event in the same transaction as the change and its audit entry', async () => {
  const t = owner.access_token;
  const tid = owner.tenant.id;
  const c = await createRecord(t, 'customers', { name: customerName('发件箱') });
  const up = expectStatus(await patch(t, 'customers', c.id, { level: 'VIP' }, 1), 200);
  assert.equal((await del(t, 'customers', c.id)).status, 204);
  const back = expectStatus(await restore(t, 'customers', c.id), 200);
  const events = await sqlRows(tid, `SELECT id, event, record_id, payload, at FROM $s.outbox WHERE object = 'customers' AND record_id = ${c.id} ORDER BY id`);
  assert.deepEqual(events.map((e) => e.event), ['customer.created', 'customer.updated', 'customer.deleted', 'customer.restored']);
  assert.equal(events[0].payload.id, c.id);
  assert.equal(events[0].payload.name, c.name);
  assert.deepEqual(events[1].payload, { id: c.id, changes: { level: 'VIP' } });
  assert.equal(events[2].payload.id, c.id);
  const audit = await sqlRows(tid, `SELECT action, at FROM $s.audit_log WHERE object = 'customers' AND record_id = ${c.id} ORDER BY id`);
  assert.deepEqual(audit.map((a) => a.action), ['create', 'update', 'delete', 'restore']);
  const same = (a, b) => assert.equal(Date.parse(a.slice(0, 23) + 'Z'), Date.parse(b.slice(0, 23) + 'Z'), `${a} vs ${b}`);
  // now() is the transaction's start: equal times mean one transaction
  for (let i = 0; i < 4; i++) assert.equal(events[i].at, audit[i].at, `${events[i].event} and its audit entry share the transaction`);
  same(events[0].at, c.created_at);
  same(events[1].at, up.updated_at);
  same(events[3].at, back.updated_at);
});

test('outbox: every object names its events <singular>.created / updated / deleted', async () => {
  const t = owner.access_token;
  const tid = owner.tenant.id;
  const c = await createRecord(t, 'customers', { name: customerName('事件') });
  const bodies = {
    contacts: { name: '事件联系人' }, leads: { name: '事件线索' }, opportunities: { name: '事件商机', customer_id: c.id },
    activities: { kind: 'note', subject: '事件活动' }, tasks: { subject: '事件任务' },
  };
  const singular = { contacts: 'contact', leads: 'lead', opportunities: 'opportunity', activities: 'activity', tasks: 'task' };
  for (const [object, body] of Object.entries(bodies)) {
    const rec = await createRecord(t, object, body);
    expectStatus(await patch(t, object, rec.id, { tags: ['e'] }, 1), 200);
    assert.equal((await del(t, object, rec.id)).status, 204);
    const events = await sqlRows(tid, `SELECT event FROM $s.outbox WHERE object = '${object}' AND record_id = ${rec.id} ORDER BY id`);
    assert.deepEqual(events.map((e) => e.event), ['created', 'updated', 'deleted'].map((a) => `${singular[object]}.${a}`));
  }
});

test('refused writes (422, 412, 409, 403, 404) write no audit entry and no outbox event', async () => {
  const t = owner.access_token;
  const c = await createRecord(t, 'customers', { name: customerName('拒绝'), phone: mobile() });
  const before = await writes(owner.tenant.id);
  assertError(await post(t, 'customers', { name: 5 }), 422, 'validation_failed');
  assertError(await patch(t, 'customers', c.id, { level: 'X' }, 7), 412, 'version_conflict');
  assertError(await post(t, 'customers', { name: c.name }), 409, 'duplicate');
  assertError(await post(reader.access_token, 'customers', { name: customerName() }), 403, 'forbidden');
  assertError(await patch(sales2.access_token, 'customers', c.id, { level: 'X' }, 1), 404, 'not_found');
  assertError(await del(sales1.access_token, 'customers', c.id), 403, 'forbidden');
  await assertNoWrites(owner.tenant.id, before);
});

/* ---------- opportunities, activities ---------- */

async function stages(tenantId) {
  const rows = await sqlRows(tenantId, 'SELECT s.id, s.kind, s.probability, s.pipeline_id FROM $s.pipeline_stages s JOIN $s.pipelines p ON p.id = s.pipeline_id WHERE p.is_default ORDER BY s.position');
  return { open: rows.filter((s) => s.kind === 'open'), won: rows.find((s) => s.kind === 'won'), lost: rows.find((s) => s.kind === 'lost') };
}

test('opportunities: a new one starts in the default pipeline\'s first stage with its probability', async () => {
  const t = owner.access_token;
  const st = await stages(owner.tenant.id);
  const c = await createRecord(t, 'customers', { name: customerName('商机客户') });
  const o = await createRecord(t, 'opportunities', { name: '新商机', customer_id: c.id });
  assert.deepEqual([o.pipeline_id, o.stage_id, o.probability, o.status, o.closed_at, o.currency],
    [st.open[0].pipeline_id, st.open[0].id, st.open[0].probability, 'open', null, 'CNY']);
});

test('opportunities: stage → won / lost sets status and closed_at; back to an open stage reopens', async () => {
  const t = owner.access_token;
  const st = await stages(owner.tenant.id);
  const c = await createRecord(t, 'customers', { name: customerName('赢单客户') });
  const o = await createRecord(t, 'opportunities', { name: '赢单商机', customer_id: c.id, amount: '50000' });
  const won = expectStatus(await patch(t, 'opportunities', o.id, { stage_id: st.won.id }, 1), 200);
  assert.deepEqual([won.status, won.probability, won.stage_id], ['won', st.won.probability, st.won.id]);
  assertTime(won.closed_at, 'closed_at');
  const lost = expectStatus(await patch(t, 'opportunities', o.id, { stage_id: st.lost.id, lost_reason: '价格' }, 2), 200);
  assert.deepEqual([lost.status, lost.probability, lost.lost_reason], ['lost', st.lost.probability, '价格']);
  assertTime(lost.closed_at, 'closed_at');
  assert.ok(lost.closed_at >= won.closed_at);
  const open = expectStatus(await patch(t, 'opportunities', o.id, { stage_id: st.open[2].id }, 3), 200);
  assert.deepEqual([open.status, open.closed_at, open.probability], ['open', null, st.open[2].probability]);
  const given = expectStatus(await patch(t, 'opportunities', o.id, { stage_id: st.open[1].id, probability: 65 }, 4), 200);
  assert.equal(given.probability, 65, 'a probability given with the stage is kept');
  const history = expectStatus(await api('GET', `/api/v1/opportunities/${o.id}/history`, { token: t }), 200).data;
  assert.ok(history.some((e) => e.field === 'status' && e.old === 'open' && e.new === 'won'), 'the status change is in the history');
  const summary = expectStatus(await get(t, 'customers', c.id), 200).summary;
  assert.deepEqual(summary.open_opportunities, { count: 1, amount: '50000.00' });
});

test('opportunities: created in a won stage is closed at once; an unknown stage answers 422', async () => {
  const t = owner.access_token;
  const st = await stages(owner.tenant.id);
  const c = await createRecord(t, 'customers', { name: customerName('直接赢单') });
  const o = await createRecord(t, 'opportunities', { name: '直接赢单', customer_id: c.id, stage_id: st.won.id });
  assert.equal(o.status, 'won');
  assertTime(o.closed_at, 'closed_at');
  assertError(await post(t, 'opportunities', { name: 'x', customer_id: c.id, stage_id: 999999 }), 422, 'validation_failed', { stage_id: 'invalid_value' });
  assertError(await patch(t, 'opportunities', o.id, { stage_id: 999999 }, 1), 422, 'validation_failed', { stage_id: 'invalid_value' });
  assertError(await post(t, 'opportunities', { name: 'x', customer_id: c.id, pipeline_id: 999999 }), 422, 'validation_failed', { pipeline_id: 'invalid_value' });
  assertError(await post(t, 'opportunities', { name: 'x', customer_id: c.id, stage_id: st.won.id, pipeline_id: st.won.pipeline_id + 1000 }), 422, 'validation_failed', { stage_id: 'invalid_value' });
});

test('activities: logging one on a customer sets its last_followed_at (never backwards, no new version)', async () => {
  const t = owner.access_token;
  const c = await createRecord(t, 'customers', { name: customerName('跟进') });
  await createRecord(t, 'activities', { kind: 'call', subject: '首次电话', customer_id: c.id, occurred_at: '2026-03-02T08:00:00Z' });
  let got = expectStatus(await get(t, 'customers', c.id), 200);
  assert.equal(Date.parse(got.last_followed_at), Date.parse('2026-03-02T08:00:00Z'));
  assert.equal(got.version, 1, 'follow-up time is bookkeeping, not an edit');
  await createRecord(t, 'activities', { kind: 'note', subject: '补记', customer_id: c.id, occurred_at: '2026-01-01T00:00:00Z' });
  got = expectStatus(await get(t, 'customers', c.id), 200);
  assert.equal(Date.parse(got.last_followed_at), Date.parse('2026-03-02T08:00:00Z'), 'an older activity does not move it back');
  const a = await createRecord(t, 'activities', { kind: 'visit', subject: '拜访', customer_id: c.id });
  got = expectStatus(await get(t, 'customers', c.id), 200);
  assert.equal(Date.parse(got.last_followed_at), Date.parse(a.occurred_at), 'occurred_at defaults to now');
  assert.equal(got.summary.last_activity?.id, a.id);
});

test('activities: logged on a contact or an opportunity, they follow up that record\'s customer', async () => {
  const t = owner.access_token;
  const c1 = await createRecord(t, 'customers', { name: customerName('联系人跟进') });
  const c2 = await createRecord(t, 'customers', { name: customerName('商机跟进') });
  const contact = await createRecord(t, 'contacts', { name: '钱七', customer_id: c1.id });
  const opp = await createRecord(t, 'opportunities', { name: '跟进商机', customer_id: c2.id });
  const a1 = await createRecord(t, 'activities', { kind: 'call', subject: '致电联系人', contact_id: contact.id, occurred_at: '2026-02-01T00:00:00Z' });
  const a2 = await createRecord(t, 'activities', { kind: 'meeting', subject: '商机会议', opportunity_id: opp.id, occurred_at: '2026-02-02T00:00:00Z' });
  assert.equal(a1.customer_id, c1.id);
  assert.equal(a2.customer_id, c2.id);
  assert.equal(Date.parse(expectStatus(await get(t, 'customers', c1.id), 200).last_followed_at), Date.parse('2026-02-01T00:00:00Z'));
  assert.equal(Date.parse(expectStatus(await get(t, 'customers', c2.id), 200).last_followed_at), Date.parse('2026-02-02T00:00:00Z'));
});

/* ---------- duplicates ---------- */

const fullWidth = (s) => s.replace(/[!-~]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0));

test('a customer whose normalized name equals a live one answers 409 duplicate with existing_id, and nothing is stored', async () => {
  const t = owner.access_token;
  const u = unique();
  const zh = await createRecord(t, 'customers', { name: `星辰${u}科技有限公司` });
  const en = await createRecord(t, 'customers', { name: `Acme ${u} Co., Ltd.` });
  const cases = [
    [zh, `星辰${u}科技`], [zh, `星辰${u.toUpperCase()}科技有限公司`], [zh, ` 星辰 ${u} 科技 有限公司 `], [zh, `星辰${fullWidth(u)}科技有限公司`],
    [zh, `星辰${u}科技股份有限公司`], [zh, `星辰${u}科技（有限公司）`],
    [en, `ACME ${u}`], [en, `acme ${u} limited`], [en, `Ａｃｍｅ ${fullWidth(u)} Co.,Ltd`], [en, `Acme${u} Inc.`], [en, `acme-${u} co ltd`],
  ];
  const before = await writes(owner.tenant.id);
  for (const [existing, name] of cases) {
    const res = await post(t, 'customers', { name });
    assertError(res, 409, 'duplicate');
    assert.equal(res.json.error.existing_id, existing.id, `${name} → existing_id`);
  }
  await assertNoWrites(owner.tenant.id, before);
});

test('a customer whose phone equals a live one\'s, with or without +86 / 0086, answers 409 duplicate', async () => {
  const t = owner.access_token;
  const digits = mobile();
  const dashed = `${digits.slice(0, 3)}-${digits.slice(3, 7)}-${digits.slice(7)}`;
  const base = await createRecord(t, 'customers', { name: customerName('电话查重'), phone: `+86 ${dashed}` });
  for (const phone of [digits, `0086${digits}`, `0086 ${dashed}`, `+86${digits}`, `86${digits}`, dashed.replaceAll('-', ' ')]) {
    const res = await post(t, 'customers', { name: customerName('另一家'), phone });
    assertError(res, 409, 'duplicate');
    assert.equal(res.json.error.existing_id, base.id, phone);
  }
});

test('force:true creates a duplicate anyway; a deleted customer is no duplicate', async () => {
  const t = owner.access_token;
  const name = customerName('强制创建');
  const first = await createRecord(t, 'customers', { name });
  assertError(await post(t, 'customers', { name }), 409, 'duplicate');
  const forced = await createRecord(t, 'customers', { name, force: true });
  assert.notEqual(forced.id, first.id);
  assert.equal(forced.force, undefined, 'force is not stored');
  assertError(await post(t, 'customers', { name, force: false }), 409, 'duplicate');
  assert.equal((await del(t, 'customers', first.id)).status, 204);
  assert.equal((await del(t, 'customers', forced.id)).status, 204);
  await createRecord(t, 'customers', { name });
});

test('names that merely end in the letters of a legal form (Costco / Cost, Zinc / Z) are not duplicates', async () => {
  const t = owner.access_token;
  const u = unique();
  await createRecord(t, 'customers', { name: `${u} Costco` });
  await createRecord(t, 'customers', { name: `${u} Zinc` });
  const failures = [];
  for (const name of [`${u} Cost`, `${u} Z`]) {
    const res = await post(t, 'customers', { name });
    if (res.status !== 201) failures.push(`POST /customers {"name":"${name}"} → ${res.status} ${res.text.slice(0, 120)}`);
  }
  assert.deepEqual(failures, []);
});

/* ---------- scope by role ---------- */

test('scope own: a sales member does not see another sales member\'s customer (404 everywhere, absent from lists and q)', async () => {
  const mine = await createRecord(sales1.access_token, 'customers', { name: customerName('销售一的客户') });
  const theirs = await createRecord(sales2.access_token, 'customers', { name: customerName('销售二的客户') });
  assert.equal(mine.owner_id, sales1.member.id);
  const t2 = sales2.access_token;
  assertError(await get(t2, 'customers', mine.id), 404, 'not_found');
  assertError(await patch(t2, 'customers', mine.id, { level: 'X' }, 1), 404, 'not_found');
  assertError(await history(t2, 'customers', mine.id), 404, 'not_found');
  const listed = await listIds(t2, 'customers');
  assert.ok(!listed.includes(mine.id));
  assert.ok(listed.includes(theirs.id));
  assert.deepEqual(await listIds(t2, 'customers', { q: mine.name.split(' ')[1] }), []);
  assertError(await post(t2, 'contacts', { name: '越权联系人', customer_id: mine.id }), 422, 'validation_failed', { customer_id: 'not_found' });
  assert.ok((await listIds(sales1.access_token, 'customers')).includes(mine.id));
  assert.ok(!(await listIds(sales1.access_token, 'customers')).includes(theirs.id));
  assert.deepEqual(plain(expectStatus(await get(owner.access_token, 'customers', mine.id), 200)), mine);
});

test('scope own: a task or activity of another sales member cannot be deleted or restored (404)', async () => {
  const task = await createRecord(sales1.access_token, 'tasks', { subject: '销售一的任务' });
  assertError(await del(sales2.access_token, 'tasks', task.id), 404, 'not_found');
  assert.equal((await del(sales1.access_token, 'tasks', task.id)).status, 204);
  assertError(await restore(sales2.access_token, 'tasks', task.id), 404, 'not_found');
  expectStatus(await restore(sales1.access_token, 'tasks', task.id), 200);
});

test('scope own: a task may be assigned to anyone; it then belongs to the assignee\'s scope', async () => {
  const task = await createRecord(sales1.access_token, 'tasks', { subject: '交给销售二', assignee_id: sales2.member.id });
  assert.equal(task.assignee_id, sales2.member.id);
  expectStatus(await get(sales2.access_token, 'tasks', task.id), 200);
  assert.ok((await listIds(sales2.access_token, 'tasks')).includes(task.id));
  assertError(await get(sales1.access_token, 'tasks', task.id), 404, 'not_found');
});

test('scope own: a sales member cannot hand a customer to someone outside their scope (422 out_of_scope)', async () => {
  const c = await createRecord(sales1.access_token, 'customers', { name: customerName('移交') });
  assertError(await patch(sales1.access_token, 'customers', c.id, { owner_id: sales2.member.id }, 1), 422, 'validation_failed', { owner_id: 'out_of_scope' });
  assertError(await post(sales1.access_token, 'customers', { name: customerName(), owner_id: sales2.member.id }), 422, 'validation_failed', { owner_id: 'out_of_scope' });
  assert.equal(expectStatus(await get(sales1.access_token, 'customers', c.id), 200).owner_id, sales1.member.id);
});

test('scope team: a manager sees and edits their reports\' records, not others\'; the history names the manager', async () => {
  const report = await createRecord(sales1.access_token, 'customers', { name: customerName('下属客户') });
  const other = await createRecord(sales2.access_token, 'customers', { name: customerName('非下属客户') });
  const tm = manager.access_token;
  expectStatus(await get(tm, 'customers', report.id), 200);
  assertError(await get(tm, 'customers', other.id), 404, 'not_found');
  const listed = await listIds(tm, 'customers');
  assert.ok(listed.includes(report.id));
  assert.ok(!listed.includes(other.id));
  expectStatus(await patch(tm, 'customers', report.id, { level: 'A' }, 1), 200);
  const [entry] = expectStatus(await history(tm, 'customers', report.id), 200).data;
  assert.deepEqual(entry.actor, { id: manager.member.id, name: '经理王' });
  assertError(await patch(tm, 'customers', report.id, { owner_id: sales2.member.id }, 2), 422, 'validation_failed', { owner_id: 'out_of_scope' });
  expectStatus(await patch(tm, 'customers', report.id, { owner_id: manager.member.id }, 2), 200);
  expectStatus(await patch(tm, 'customers', report.id, { owner_id: sales1.member.id }, 3), 200);
});

test('scope team follows the manager tree: unlinking a report hides their records from the manager', async () => {
  const other = await addMember(owner.access_token, { role: 'sales', name: '临时下属' });
  const c = await createRecord(other.access_token, 'customers', { name: customerName('临时下属客户') });
  assertError(await get(manager.access_token, 'customers', c.id), 404, 'not_found');
  expectStatus(await patchMember(owner.access_token, other.member.id, { manager_id: manager.member.id }), 200);
  expectStatus(await get(manager.access_token, 'customers', c.id), 200);
  expectStatus(await patchMember(owner.access_token, other.member.id, { manager_id: null }), 200);
  assertError(await get(manager.access_token, 'customers', c.id), 404, 'not_found');
  assert.ok(!(await listIds(manager.access_token, 'customers')).includes(c.id));
});

test('a read-only member reads every record but gets 403 on create, update, delete and restore; nothing changes', async () => {
  const tr = reader.access_token;
  const c = await createRecord(sales1.access_token, 'customers', { name: customerName('只读可见') });
  const gone = await createRecord(owner.access_token, 'customers', { name: customerName('只读回收') });
  assert.equal((await del(owner.access_token, 'customers', gone.id)).status, 204);
  expectStatus(await get(tr, 'customers', c.id), 200);
  assert.ok((await listIds(tr, 'customers')).includes(c.id));
  const before = await writes(owner.tenant.id);
  for (const object of OBJECTS) assertError(await post(tr, object, { name: 'x', subject: 'x', kind: 'call' }), 403, 'forbidden');
  assertError(await patch(tr, 'customers', c.id, { level: 'X' }, 1), 403, 'forbidden');
  assertError(await del(tr, 'customers', c.id), 403, 'forbidden');
  assertError(await restore(tr, 'customers', gone.id), 403, 'forbidden');
  await assertNoWrites(owner.tenant.id, before);
  assert.deepEqual(plain(expectStatus(await get(tr, 'customers', c.id), 200)), c);
});

test('a sales member may not delete customers (403) but may delete their own activities', async () => {
  const c = await createRecord(sales1.access_token, 'customers', { name: customerName('不可删') });
  assertError(await del(sales1.access_token, 'customers', c.id), 403, 'forbidden');
  expectStatus(await get(sales1.access_token, 'customers', c.id), 200);
  const a = await createRecord(sales1.access_token, 'activities', { kind: 'note', subject: '可删', customer_id: c.id });
  assert.equal((await del(sales1.access_token, 'activities', a.id)).status, 204);
});

/* ---------- field-level security (tenant F, set up in SQL) ---------- */

// Tenant F: hidden and read-only fields, core and custom, for role sales; a customer of
// the sales member whose phone and secret the owner set.
async function setupFieldSecurity() {
  const tid = fsOwner.tenant.id;
  await addCustomField(tid, 'customers', [
    { key: 'secret', type: 'text', label: '机密备注' },
    { key: 'note_ro', type: 'text', label: '只读备注' },
  ]);
  await addCustomField(tid, 'leads', { key: 'internal', type: 'text', label: '内部评级', required: true });
  await setFieldAccess(tid, 'sales', 'customers', { phone: 'hidden', secret: 'hidden', website: 'read_only', note_ro: 'read_only' });
  await setFieldAccess(tid, 'sales', 'leads', { internal: 'hidden' });
  await setFieldAccess(tid, 'sales', 'opportunities', { amount: 'hidden' });
  fsSales = await addMember(fsOwner.access_token, { role: 'sales', name: '受限销售' });
  fsCustomer = await createRecord(fsOwner.access_token, 'customers', {
    name: customerName('受限客户'), owner_id: fsSales.member.id, phone: '021-5555 6666',
    website: 'https://secret.example.com', custom: { secret: '底价 80 万', note_ro: '老客户' },
  });
  fsCustomer = expectStatus(await patch(fsOwner.access_token, 'customers', fsCustomer.id,
    { phone: '021-5555 7777', custom: { secret: '底价 90 万' }, website: 'https://secret2.example.com' }, 1), 200);
  assert.equal(fsCustomer.phone, '021-5555 7777');
}

test('field security: a hidden field is absent from get, list, PATCH answers and history, core and custom', async () => {
  const ts = fsSales.access_token;
  const own = await createRecord(ts, 'customers', { name: customerName('受限自建') });
  assert.equal('phone' in own, false, 'the answer to a create hides phone');
  const got = expectStatus(await get(ts, 'customers', fsCustomer.id), 200);
  assert.equal('phone' in got, false);
  assert.equal('secret' in got.custom, false);
  assert.equal(got.website, 'https://secret2.example.com', 'a read-only field is shown');
  assert.equal(got.custom.note_ro, '老客户');
  const listed = expectStatus(await api('GET', '/api/v1/customers', { token: ts }), 200).data.find((r) => r.id === fsCustomer.id);
  assert.ok(listed);
  assert.equal('phone' in listed, false);
  assert.equal('secret' in listed.custom, false);
  const patched = expectStatus(await patch(ts, 'customers', fsCustomer.id, { level: 'B' }, fsCustomer.version), 200);
  assert.equal('phone' in patched, false);
  assert.equal('secret' in patched.custom, false);
  fsCustomer = expectStatus(await get(fsOwner.access_token, 'customers', fsCustomer.id), 200);
  const entries = expectStatus(await history(ts, 'customers', fsCustomer.id), 200).data;
  assert.ok(!entries.some((e) => ['phone', 'secret'].includes(e.field)), `no hidden field in history: ${entries.map((e) => e.field)}`);
  assert.ok(entries.some((e) => e.field === 'website'), 'other changes are listed');
  assert.ok(!JSON.stringify(entries).includes('5555'), 'the hidden value appears nowhere, not even in the create entry');
  const created = entries.find((e) => e.action === 'create');
  assert.equal('phone' in created.new, false);
  assert.deepEqual(created.new.custom, { note_ro: '老客户' });
  assert.ok(!JSON.stringify(entries).includes('底价'), 'the hidden custom value appears nowhere');
  const full = expectStatus(await history(fsOwner.access_token, 'customers', fsCustomer.id), 200).data;
  assert.ok(full.some((e) => e.field === 'phone') && full.some((e) => e.field === 'secret'), 'the owner sees them');
});

test('field security: a hidden field cannot be filtered or sorted (400)', async () => {
  const ts = fsSales.access_token;
  assertError(await api('GET', '/api/v1/customers?filter[phone][contains]=5555', { token: ts }), 400, 'bad_request', { 'filter[phone]': 'unknown_field' });
  assertError(await api('GET', '/api/v1/customers?filter[custom.secret][empty]=false', { token: ts }), 400, 'bad_request', { 'filter[custom.secret]': 'unknown_field' });
  assertError(await api('GET', '/api/v1/customers?sort=-phone', { token: ts }), 400, 'bad_request', { sort: 'unknown_field' });
  expectStatus(await api('GET', '/api/v1/customers?filter[phone][contains]=5555', { token: fsOwner.access_token }), 200);
});

test('field security: q does not match on a hidden field\'s value', async () => {
  const ts = fsSales.access_token;
  assert.deepEqual(await listIds(ts, 'customers', { q: fsCustomer.name.split(' ')[1] }), [fsCustomer.id], 'q by name finds it');
  assert.deepEqual(await listIds(ts, 'customers', { q: '5555-7777' }), [], 'q by the hidden phone finds nothing');
});

test('field security: writing a hidden or read-only field answers 403 field_forbidden naming it; nothing changes', async () => {
  const ts = fsSales.access_token;
  const v = fsCustomer.version;
  const cases = [
    [{ phone: '1' }, { phone: 'hidden' }], [{ website: 'https://x.example.com' }, { website: 'read_only' }],
    [{ custom: { secret: 'x' } }, { secret: 'hidden' }], [{ custom: { note_ro: 'x' } }, { note_ro: 'read_only' }],
    [{ phone: '1', website: 'x.com', custom: { secret: 'x', note_ro: 'y' }, level: 'C' }, { phone: 'hidden', website: 'read_only', secret: 'hidden', note_ro: 'read_only' }],
  ];
  const before = await writes(fsOwner.tenant.id);
  for (const [body, fields] of cases) {
    assertError(await patch(ts, 'customers', fsCustomer.id, body, v), 403, 'field_forbidden', fields);
    assertError(await post(ts, 'customers', { name: customerName(), ...body }), 403, 'field_forbidden', fields);
  }
  await assertNoWrites(fsOwner.tenant.id, before);
  assert.deepEqual(plain(expectStatus(await get(fsOwner.access_token, 'customers', fsCustomer.id), 200)), plain(fsCustomer));
});

test('field security: a hidden opportunity amount shows neither on the opportunity nor in the customer\'s summary', async () => {
  const ts = fsSales.access_token;
  const opp = await createRecord(fsOwner.access_token, 'opportunities', {
    name: '保密金额商机', customer_id: fsCustomer.id, amount: '987654.32', owner_id: fsSales.member.id,
  });
  const got = expectStatus(await get(ts, 'opportunities', opp.id), 200);
  assert.equal('amount' in got, false);
  assert.equal(expectStatus(await get(fsOwner.access_token, 'customers', fsCustomer.id), 200).summary.open_opportunities.amount, '987654.32');
  const { summary } = expectStatus(await get(ts, 'customers', fsCustomer.id), 200);
  assert.equal(summary.open_opportunities.count, 1);
  assert.ok(!JSON.stringify(summary).includes('987654'), `the hidden amount leaks through the summary: ${JSON.stringify(summary.open_opportunities)}`);
});

test('field security: a required custom field hidden from a role is not required of it', async () => {
  const lead = await createRecord(fsSales.access_token, 'leads', { name: '受限线索' });
  assert.equal('internal' in lead.custom, false);
  assertError(await post(fsOwner.access_token, 'leads', { name: '所有者线索' }), 422, 'validation_failed', { internal: 'required' });
  const full = await createRecord(fsOwner.access_token, 'leads', { name: '所有者线索', custom: { internal: 'A' } });
  assert.equal(full.custom.internal, 'A');
});

/* ---------- custom fields (tenant F, defined in SQL) ---------- */

const CUSTOM_TYPES = [
  ['cf_text', 'text', { rules: { max_length: 5 } }, [[5, 'invalid_type'], ['长长长长长长', 'too_long']], ['  abc ', 'abc']],
  ['cf_area', 'textarea', {}, [[{}, 'invalid_type'], ['x'.repeat(20001), 'too_long']], ['多行\n文本', '多行\n文本']],
  ['cf_num', 'number', { rules: { min: 0, max: 10 } }, [['5', 'invalid_type'], [11, 'out_of_range'], [-1, 'out_of_range']], [7.5, 7.5]],
  ['cf_int', 'number', { rules: { integer: true } }, [[2.5, 'not_integer']], [3, 3]],
  ['cf_money', 'money', {}, [['abc', 'invalid_format'], ['1.005', 'invalid_format']], [12.5, '12.50']],
  ['cf_date', 'date', {}, [['2024-13-01', 'invalid_date'], ['2024/01/01', 'invalid_date']], ['2024-02-29', '2024-02-29']],
  ['cf_dt', 'datetime', {}, [['2024-01-01', 'invalid_datetime'], [20240101, 'invalid_datetime']], ['2024-01-01T08:00:00+08:00', (v) => Date.parse(v) === Date.parse('2024-01-01T00:00:00Z')]],
  ['cf_bool', 'bool', {}, [['true', 'invalid_type'], [0, 'invalid_type']], [true, true]],
  ['cf_sel', 'select', { options: ['金', '银', '铜'] }, [['铁', 'invalid_option'], [1, 'invalid_type']], ['银', '银']],
  ['cf_multi', 'multiselect', { options: ['x', 'y', 'z'] }, [['x', 'invalid_type'], [['x', 'q'], 'invalid_option'], [[1], 'invalid_type']], [['y', 'x', 'x'], (v) => JSON.stringify([...v].sort()) === '["x","y"]']],
  ['cf_user', 'user', {}, [[999999, 'invalid_member'], ['1', 'invalid_member']], [null, null]],
  ['cf_phone', 'phone', {}, [['abc', 'invalid_phone'], ['12', 'invalid_phone']], ['+86 139 0000 1111', '+86 139 0000 1111']],
  ['cf_email', 'email', {}, [['nope', 'invalid_email'], [42, 'invalid_email']], ['Boss@Example.COM', 'boss@example.com']],
  ['cf_url', 'url', {}, [['not a url', 'invalid_url'], ['javascript:alert(1)', 'invalid_url']], ['www.example.com/a?b=1', 'www.example.com/a?b=1']],
];

// Tenant F: one custom field of every type on contacts, a required one and one with a
// default on tasks, a unique one on customers.
async function setupCustomFields() {
  const tid = fsOwner.tenant.id;
  await addCustomField(tid, 'contacts', CUSTOM_TYPES.map(([key, type, extra]) => ({ key, type, ...extra })));
  await addCustomField(tid, 'tasks', [
    { key: 'budget', type: 'money', label: '预算', required: true },
    { key: 'grade', type: 'select', label: '等级', options: ['A', 'B', 'C'], default: 'C' },
  ]);
  await addCustomField(tid, 'customers', { key: 'code', type: 'text', label: '客户编码', unique: true });
  const [[n]] = await sql(`SELECT count(*) FROM t_${tid}.fields WHERE NOT core`);
  assert.ok(Number(n) >= CUSTOM_TYPES.length + 3);
}

for (const [key, type, , bad, [good, stored]] of CUSTOM_TYPES) {
  test(`custom field of type ${type}: bad values answer 422 {${key}: reason}; a good one is stored normalized`, async () => {
    const t = fsOwner.access_token;
    for (const [value, reason] of bad) {
      const res = await post(t, 'contacts', { name: '自定义校验', custom: { [key]: value } });
      assert.equal(res.status, 422, `${key}=${JSON.stringify(value).slice(0, 40)}: ${res.status} ${res.text.slice(0, 150)}`);
      assertError(res, 422, 'validation_failed', { [key]: reason });
    }
    const value = key === 'cf_user' ? (await listMembers(t))[0].id : good;
    const rec = await createRecord(t, 'contacts', { name: '自定义合法', custom: { [key]: value } });
    const expected = key === 'cf_user' ? value : stored;
    if (typeof expected === 'function') assert.ok(expected(rec.custom[key]), `${key} stored as ${JSON.stringify(rec.custom[key])}`);
    else assert.deepEqual(rec.custom[key], expected);
    const got = expectStatus(await get(t, 'contacts', rec.id), 200);
    assert.deepEqual(got.custom, rec.custom);
  });
}

test('custom fields: an unknown key answers 422 unknown_field; PATCH merges custom values and null removes one', async () => {
  const t = fsOwner.access_token;
  assertError(await post(t, 'contacts', { name: 'x', custom: { cf_nope: 1 } }), 422, 'validation_failed', { cf_nope: 'unknown_field' });
  assertError(await post(t, 'contacts', { name: 'x', custom: { name: 'core' } }), 422, 'validation_failed', { name: 'unknown_field' });
  const rec = await createRecord(t, 'contacts', { name: '合并', custom: { cf_text: 'a', cf_num: 1 } });
  const p1 = expectStatus(await patch(t, 'contacts', rec.id, { custom: { cf_num: 2, cf_bool: false } }, 1), 200);
  assert.deepEqual(p1.custom, { cf_text: 'a', cf_num: 2, cf_bool: false });
  const p2 = expectStatus(await patch(t, 'contacts', rec.id, { custom: { cf_text: null } }, 2), 200);
  assert.deepEqual(p2.custom, { cf_num: 2, cf_bool: false });
  const changes = expectStatus(await history(t, 'contacts', rec.id), 200).data.filter((e) => e.action === 'update');
  assert.deepEqual(changes.map((e) => [e.field, e.old, e.new]).sort(), [['cf_bool', null, false], ['cf_num', 1, 2], ['cf_text', 'a', null]]);
});

test('custom fields: a required one answers 422 required; a default fills in on create only', async () => {
  const t = fsOwner.access_token;
  assertError(await post(t, 'tasks', { subject: '无预算' }), 422, 'validation_failed', { budget: 'required' });
  assertError(await post(t, 'tasks', { subject: '空预算', custom: { budget: '' } }), 422, 'validation_failed', { budget: 'required' });
  const task = await createRecord(t, 'tasks', { subject: '有预算', custom: { budget: '100' } });
  assert.deepEqual(task.custom, { budget: '100.00', grade: 'C' });
  const chosen = await createRecord(t, 'tasks', { subject: '选等级', custom: { budget: '1', grade: 'A' } });
  assert.equal(chosen.custom.grade, 'A');
  assertError(await patch(t, 'tasks', task.id, { custom: { budget: null } }, 1), 422, 'validation_failed', { budget: 'required' });
  const p = expectStatus(await patch(t, 'tasks', task.id, { custom: { grade: null } }, 1), 200);
  assert.deepEqual(p.custom, { budget: '100.00' }, 'clearing a field with a default leaves it empty');
});

test('custom fields: a unique one answers 422 {code: not_unique} on POST and PATCH; a deleted holder frees the value, and restoring it then answers 409', async () => {
  const t = fsOwner.access_token;
  const code = `KH-${unique()}`;
  const a = await createRecord(t, 'customers', { name: customerName('编码甲'), custom: { code } });
  const before = await writes(fsOwner.tenant.id);
  assertError(await post(t, 'customers', { name: customerName('编码乙'), custom: { code } }), 422, 'validation_failed', { code: 'not_unique' });
  await assertNoWrites(fsOwner.tenant.id, before);
  const b = await createRecord(t, 'customers', { name: customerName('编码乙'), custom: { code: `${code}-2` } });
  assertError(await patch(t, 'customers', b.id, { custom: { code } }, 1), 422, 'validation_failed', { code: 'not_unique' });
  assert.equal(expectStatus(await get(t, 'customers', b.id), 200).custom.code, `${code}-2`);
  assert.equal((await del(t, 'customers', a.id)).status, 204);
  const c = await createRecord(t, 'customers', { name: customerName('编码丙'), custom: { code } });
  assert.equal(c.custom.code, code);
  assertError(await restore(t, 'customers', a.id), 409, 'conflict');
  assertError(await get(t, 'customers', a.id), 404, 'not_found');
});

/* ---------- tenant isolation ---------- */

test('isolation: tenant B gets 404 on every record route for tenant T\'s ids, and T\'s records stay unchanged', async () => {
  const ta = owner.access_token;
  const c = await createRecord(ta, 'customers', { name: customerName('甲方机密客户') });
  const recs = {
    customers: c,
    contacts: await createRecord(ta, 'contacts', { name: '甲方联系人', customer_id: c.id }),
    leads: await createRecord(ta, 'leads', { name: '甲方线索' }),
    opportunities: await createRecord(ta, 'opportunities', { name: '甲方商机', customer_id: c.id }),
    activities: await createRecord(ta, 'activities', { kind: 'call', subject: '甲方活动', customer_id: c.id }),
    tasks: await createRecord(ta, 'tasks', { subject: '甲方任务', customer_id: c.id }),
  };
  const gone = await createRecord(ta, 'leads', { name: '甲方已删线索' });
  assert.equal((await del(ta, 'leads', gone.id)).status, 204);
  const tb = tenantB.access_token;
  for (const object of OBJECTS) {
    for (const id of [recs[object].id, tFirst.id]) {
      assertError(await get(tb, object, id), 404, 'not_found');
      assertError(await patch(tb, object, id, { tags: ['hacked'] }, 1), 404, 'not_found');
      assertError(await patch(tb, object, id, { tags: ['hacked'], version: 1 }), 404, 'not_found');
      assertError(await del(tb, object, id), 404, 'not_found');
      assertError(await restore(tb, object, id), 404, 'not_found');
      assertError(await history(tb, object, id), 404, 'not_found');
    }
    assert.deepEqual(await listIds(tb, object), [], `B's ${object} list is empty`);
  }
  assertError(await restore(tb, 'leads', gone.id), 404, 'not_found');
  assertError(await history(tb, 'leads', gone.id), 404, 'not_found');
  for (const object of OBJECTS) {
    const { summary, ...got } = expectStatus(await get(ta, object, recs[object].id), 200);
    assert.deepEqual(got.tags, recs[object].tags);
    assert.equal(got.version, 1, `${object} unchanged`);
  }
  assertError(await get(ta, 'leads', gone.id), 404, 'not_found');
  const [[n]] = await sql(`SELECT count(*) FROM t_${owner.tenant.id}.outbox WHERE payload::text LIKE '%hacked%'`);
  assert.equal(n, '0');
});

test('isolation: tenant F, whose records are numbered like T\'s, sees only its own in get, lists and q', async () => {
  const ta = owner.access_token;
  const tf = fsOwner.access_token;
  const marker = `甲方${unique()}`;
  const mine = await createRecord(ta, 'customers', { name: `${marker} 客户`, phone: mobile(), email: `${marker}@a.example.com` });
  await createRecord(ta, 'contacts', { name: `${marker} 联系人`, customer_id: mine.id });
  await createRecord(ta, 'leads', { name: `${marker} 线索`, company: marker });
  await createRecord(ta, 'opportunities', { name: `${marker} 商机`, customer_id: mine.id });
  await createRecord(ta, 'activities', { kind: 'note', subject: `${marker} 活动` });
  await createRecord(ta, 'tasks', { subject: `${marker} 任务` });
  const got = expectStatus(await get(tf, 'customers', tFirst.id), 200);
  assert.equal(got.id, tFirst.id, 'both tenants have a customer of this id');
  assert.notEqual(got.name, tFirst.name, 'F gets its own customer, not T\'s');
  for (const object of OBJECTS) {
    const all = expectStatus(await api('GET', `/api/v1/${object}?limit=200`, { token: tf }), 200);
    assert.ok(!JSON.stringify(all).includes(marker), `F's ${object} list holds nothing of T`);
    assert.ok(!JSON.stringify(all).includes(tFirst.name), `F's ${object} list holds nothing of T`);
    assert.deepEqual(await listIds(tf, object, { q: marker }), [], `q in ${object}`);
    assert.equal((await listIds(ta, object, { q: marker })).length, 1, `T finds its own ${object}`);
  }
  assert.deepEqual(await listIds(tf, 'customers', { q: mine.phone.slice(3, 9) }), []);
  assert.deepEqual(await listIds(tf, 'customers', { 'filter[email][contains]': marker }), []);
});
