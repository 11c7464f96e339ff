// The workspace catalog: custom fields (definitions, layout, validation of
// the definitions, their effect on records: required, unique, defaults,
// delete, filter and sort), roles (object rights, scope, field security, live
// effect on sessions), pipelines (stages keep their ids, guards on removal)
// and tags (rename and delete reach every record). Bad bodies, rights and
// tenant isolation for each.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  addMember, api, assertError, assertKeys, createRecord, expectStatus, signup, testBadBodies, unique,
} from './lib.mjs';

let a; // tenant A's owner (token answer)
let b; // tenant B's owner
let aSales; // a sales member of A
let c; // tenant C: the custom field tests (each on keys of its own)
let d; // tenant D: the role tests that change its roles, and the default pipeline

const OBJECTS = ['customers', 'contacts', 'leads', 'opportunities', 'activities', 'tasks'];
const TYPES = ['text', 'textarea', 'number', 'money', 'date', 'datetime', 'bool', 'select', 'multiselect', 'user', 'phone', 'email', 'url'];
const FIELD_KEYS = ['key', 'label', 'type', 'required', 'unique', 'options', 'default', 'position'];
const ROLE_KEYS = ['key', 'name', 'record_scope', 'permissions', 'fields', 'is_system', 'version'];
const PIPELINE_KEYS = ['id', 'name', 'is_default', 'version', 'stages'];
const STAGE_KEYS = ['id', 'name', 'position', 'probability', 'kind'];

const call = (token, method, path, opts = {}) => api(method, path, { token, ...opts });
const fields = async (token, object) => expectStatus(await call(token, 'GET', `/api/v1/fields/${object}`), 200);
const addField = async (token, object, body) => expectStatus(await call(token, 'POST', `/api/v1/fields/${object}`, { body }), 201);
const getRec = async (token, object, id) => expectStatus(await call(token, 'GET', `/api/v1/${object}/${id}`), 200);
const patchRec = (token, object, rec, body) =>
  call(token, 'PATCH', `/api/v1/${object}/${rec.id}`, { body, headers: { 'if-match': String(rec.version) } });
const roles = async (token) => expectStatus(await call(token, 'GET', '/api/v1/roles'), 200);
const role = async (token, key) => (await roles(token)).data.find((r) => r.key === key);
const pipelines = async (token) => expectStatus(await call(token, 'GET', '/api/v1/pipelines'), 200).data;
const tags = async (token) => expectStatus(await call(token, 'GET', '/api/v1/tags'), 200).data;
const customer = (token, extra = {}) => createRecord(token, 'customers', { name: `客户 ${unique()}`, force: true, ...extra });
const key = (prefix = 'f') => `${prefix}_${unique().replace(/[^a-z0-9]/g, '')}`.slice(0, 40);

// The stages of a small pipeline.
const STAGES = [
  { name: '接触', probability: 10, kind: 'open' },
  { name: '报价', probability: 50, kind: 'open' },
  { name: '赢单', probability: 100, kind: 'won' },
  { name: '输单', probability: 0, kind: 'lost' },
];

before(async () => {
  [a, b, c, d] = await Promise.all([signup(), signup(), signup(), signup()]);
  aSales = await addMember(a.access_token, { role: 'sales', name: '甲销售' });
});

/* ---------------------------------------------------------------- fields */

test('GET /fields/{object}: core fields with core:true and a layout naming every field once, for every object', async () => {
  for (const object of OBJECTS) {
    const json = await fields(a.access_token, object);
    assert.ok(Array.isArray(json.data) && json.data.length > 0, `${object}: fields`);
    for (const f of json.data) {
      assertKeys(f, [...FIELD_KEYS, 'core', 'section'], `${object}.${f.key}`);
      assert.equal(f.core, true, `${object}.${f.key} is a core field of a new tenant`);
      assert.ok(TYPES.includes(f.type) || f.type === 'ref', `${object}.${f.key} type ${f.type}`);
    }
    assert.ok(Array.isArray(json.layout) && json.layout.length > 0, `${object}: layout`);
    const inLayout = json.layout.flatMap((s) => {
      assert.equal(typeof s.section, 'string');
      assert.ok(Array.isArray(s.fields));
      return s.fields;
    });
    assert.deepEqual([...inLayout].sort(), json.data.map((f) => f.key).sort(), `${object}: each field in one section`);
    assert.equal(new Set(json.layout.map((s) => s.section)).size, json.layout.length, 'sections are distinct');
  }
  const cust = await fields(a.access_token, 'customers');
  const name = cust.data.find((f) => f.key === 'name');
  assert.equal(name.required, true);
  assert.equal(name.label, '客户名称');
  assert.deepEqual(cust.data.find((f) => f.key === 'kind').options, ['company', 'person']);
});

test('GET /fields/{object} of an unknown object answers 404 on every field route', async () => {
  for (const object of ['nope', 'pipelines', 'tags', 'Customers', 'members']) {
    assertError(await call(a.access_token, 'GET', `/api/v1/fields/${object}`), 404, 'not_found');
    assertError(await call(a.access_token, 'POST', `/api/v1/fields/${object}`, { body: { key: 'x1', label: 'x', type: 'text' } }), 404, 'not_found');
    assertError(await call(a.access_token, 'PATCH', `/api/v1/fields/${object}/name`, { body: { label: 'x' } }), 404, 'not_found');
    assertError(await call(a.access_token, 'DELETE', `/api/v1/fields/${object}/name`), 404, 'not_found');
  }
});

test('fields need a token (401); members read them, only settings.manage writes them (403)', async () => {
  assertError(await api('GET', '/api/v1/fields/customers'), 401, 'unauthorized');
  await fields(aSales.access_token, 'customers');
  const k = key();
  assertError(await call(aSales.access_token, 'POST', '/api/v1/fields/customers', { body: { key: k, label: '销售字段', type: 'text' } }), 403, 'forbidden');
  assertError(await call(aSales.access_token, 'PATCH', '/api/v1/fields/customers/name', { body: { label: '名' } }), 403, 'forbidden');
  assertError(await call(aSales.access_token, 'DELETE', '/api/v1/fields/customers/name'), 403, 'forbidden');
  assert.ok(!(await fields(a.access_token, 'customers')).data.some((f) => f.key === k), 'nothing was created');
  assert.equal((await fields(a.access_token, 'customers')).data.find((f) => f.key === 'name').label, '客户名称');
});

// A valid definition of every type, with options, unique and a default where the type takes them.
const DEFINITIONS = {
  text: { unique: true, default: '默认文本' },
  textarea: { default: '第一行\n第二行' },
  number: { unique: true, default: 5 },
  money: { default: '12.50' },
  date: { unique: true, default: '2026-01-31' },
  datetime: {},
  bool: { default: true },
  select: { options: ['A级', 'B级', 'C级'], default: 'B级' },
  multiselect: { options: ['华北', '华南', '西南'], default: ['华南'] },
  user: {},
  phone: { unique: true, default: '010-8888 6666' },
  email: { unique: true },
  url: { unique: true, default: 'https://example.com/a' },
};

test('POST /fields/{object}: one custom field of every type answers 201 with its definition; GET lists it in the layout', async () => {
  const t = c.access_token;
  const made = {};
  let pos = 100;
  for (const type of TYPES) {
    const body = { key: `cf_${type}`, label: `自定义 ${type}`, type, required: false, position: pos++, ...DEFINITIONS[type] };
    const f = await addField(t, 'leads', body);
    assertKeys(f, FIELD_KEYS, type);
    assert.equal(f.key, body.key);
    assert.equal(f.label, body.label);
    assert.equal(f.type, type);
    assert.equal(f.required, false);
    assert.equal(f.unique, !!body.unique, `${type}: unique`);
    assert.deepEqual(f.options ?? null, body.options ?? null, `${type}: options`);
    assert.deepEqual(f.default ?? null, body.default ?? null, `${type}: default`);
    assert.equal(f.position, body.position);
    assert.equal(f.core, false, `${type}: a custom field is not core`);
    made[body.key] = f;
  }
  const listed = await fields(t, 'leads');
  for (const [k, f] of Object.entries(made)) {
    const got = listed.data.find((x) => x.key === k);
    assert.ok(got, `${k} is listed`);
    assert.deepEqual(got, f, `${k} is listed as created`);
  }
  const section = listed.layout.find((s) => s.fields.includes('cf_text'));
  assert.ok(section, 'the new fields are in the layout');
  assert.deepEqual(section.fields.filter((k) => k.startsWith('cf_')), TYPES.map((x) => `cf_${x}`), 'in position order');

  // a record created without them gets the defaults; values of each type are validated
  const lead = await createRecord(t, 'leads', { name: '默认值线索' });
  assert.equal(lead.custom.cf_text, '默认文本');
  assert.equal(lead.custom.cf_number, 5);
  assert.equal(lead.custom.cf_money, '12.50');
  assert.equal(lead.custom.cf_bool, true);
  assert.equal(lead.custom.cf_select, 'B级');
  assert.deepEqual(lead.custom.cf_multiselect, ['华南']);
  assert.equal(lead.custom.cf_date, '2026-01-31');
  assert.ok(!('cf_datetime' in lead.custom) || lead.custom.cf_datetime === null, 'no default, no value');
  const bad = await call(t, 'POST', '/api/v1/leads', { body: { name: '坏值', custom: { cf_number: 'abc', cf_select: 'D级', cf_email: 'no-at', cf_bool: 'yes' } } });
  assertError(bad, 422, 'validation_failed', { cf_number: 'invalid_type', cf_select: 'invalid_option', cf_email: 'invalid_email', cf_bool: 'invalid_type' });
});

test('a field with an explicit section lands in that section of the layout; a default section otherwise', async () => {
  const t = c.access_token;
  await addField(t, 'contacts', { key: 'hobby', label: '爱好', type: 'text', section: '个人信息' });
  await addField(t, 'contacts', { key: 'shoe', label: '鞋码', type: 'number' });
  const { layout } = await fields(t, 'contacts');
  assert.deepEqual(layout.find((s) => s.section === '个人信息')?.fields, ['hobby']);
  assert.ok(layout.some((s) => s.fields.includes('shoe')));
});

const BAD_DEFINITIONS = [
  ['a key with capitals', { key: 'BadKey', label: 'x', type: 'text' }, { key: 'invalid_format' }],
  ['a key starting with a digit', { key: '1abc', label: 'x', type: 'text' }, { key: 'invalid_format' }],
  ['a key of 41 characters', { key: 'a'.repeat(41), label: 'x', type: 'text' }, { key: 'invalid_format' }],
  ['a key with a dash', { key: 'a-b', label: 'x', type: 'text' }, { key: 'invalid_format' }],
  ['a numeric key', { key: 12, label: 'x', type: 'text' }, { key: 'invalid_format' }],
  ['no key', { label: 'x', type: 'text' }, { key: ['invalid_format', 'required'] }],
  ['an unknown type', { key: 'k1', label: 'x', type: 'blob' }, { type: 'invalid_option' }],
  ['type ref (core only)', { key: 'k1', label: 'x', type: 'ref' }, { type: 'invalid_option' }],
  ['no type', { key: 'k1', label: 'x' }, { type: ['invalid_option', 'required'] }],
  ['a type that is a number', { key: 'k1', label: 'x', type: 3 }, { type: 'invalid_option' }],
  ['no label', { key: 'k1', type: 'text' }, { label: 'required' }],
  ['an empty label', { key: 'k1', label: '  ', type: 'text' }, { label: 'invalid_value' }],
  ['a label of 101 characters', { key: 'k1', label: '长'.repeat(101), type: 'text' }, { label: 'invalid_value' }],
  ['a numeric label', { key: 'k1', label: 7, type: 'text' }, { label: 'invalid_value' }],
  ['select without options', { key: 'k1', label: 'x', type: 'select' }, { options: 'required' }],
  ['select with empty options', { key: 'k1', label: 'x', type: 'select', options: [] }, { options: 'invalid_value' }],
  ['select with repeated options', { key: 'k1', label: 'x', type: 'select', options: ['a', 'a'] }, { options: 'invalid_value' }],
  ['select with a non-string option', { key: 'k1', label: 'x', type: 'select', options: ['a', 1] }, { options: 'invalid_value' }],
  ['select with options as a string', { key: 'k1', label: 'x', type: 'select', options: 'a,b' }, { options: 'invalid_value' }],
  ['options on a text field', { key: 'k1', label: 'x', type: 'text', options: ['a'] }, { options: 'invalid_value' }],
  ['required as a string', { key: 'k1', label: 'x', type: 'text', required: 'yes' }, { required: 'invalid_type' }],
  ['unique as a number', { key: 'k1', label: 'x', type: 'text', unique: 1 }, { unique: 'invalid_type' }],
  ['unique on a bool field', { key: 'k1', label: 'x', type: 'bool', unique: true }, { unique: 'not_supported' }],
  ['unique on a multiselect field', { key: 'k1', label: 'x', type: 'multiselect', options: ['a'], unique: true }, { unique: 'not_supported' }],
  ['a negative position', { key: 'k1', label: 'x', type: 'text', position: -1 }, { position: 'invalid_value' }],
  ['a fractional position', { key: 'k1', label: 'x', type: 'text', position: 1.5 }, { position: 'invalid_value' }],
  ['a position as a string', { key: 'k1', label: 'x', type: 'text', position: '3' }, { position: 'invalid_value' }],
  ['a default of the wrong type', { key: 'k1', label: 'x', type: 'number', default: 'abc' }, { default: 'invalid_type' }],
  ['a default outside the options', { key: 'k1', label: 'x', type: 'select', options: ['a'], default: 'b' }, { default: 'invalid_option' }],
  ['a bad e-mail default', { key: 'k1', label: 'x', type: 'email', default: 'nobody' }, { default: 'invalid_email' }],
  ['a bad date default', { key: 'k1', label: 'x', type: 'date', default: '2026-02-30' }, { default: 'invalid_date' }],
  ['an empty section', { key: 'k1', label: 'x', type: 'text', section: '' }, { section: 'invalid_value' }],
  ['an unknown property', { key: 'k1', label: 'x', type: 'text', colour: 'red' }, { colour: 'unknown_field' }],
];

for (const [what, body, expected] of BAD_DEFINITIONS) {
  test(`POST /fields: ${what} → 422 naming the property; nothing is created`, async () => {
    const res = await call(a.access_token, 'POST', '/api/v1/fields/customers', { body });
    assertError(res, 422, 'validation_failed', expected);
    const listed = (await fields(a.access_token, 'customers')).data;
    assert.ok(!listed.some((f) => f.key === body.key && !f.core), 'nothing was created');
  });
}

test('POST /fields: a key already taken (custom, core or reserved) answers 422 key taken; the same key on another object is fine', async () => {
  const k = key('dup');
  await addField(a.access_token, 'customers', { key: k, label: '一', type: 'text' });
  assertError(await call(a.access_token, 'POST', '/api/v1/fields/customers', { body: { key: k, label: '二', type: 'number' } }), 422, 'validation_failed', { key: 'taken' });
  assert.equal((await fields(a.access_token, 'customers')).data.find((f) => f.key === k).type, 'text', 'the first stays');
  for (const taken of ['name', 'phone', 'owner_id', 'id', 'tags', 'custom', 'version', 'created_at']) {
    assertError(await call(a.access_token, 'POST', '/api/v1/fields/customers', { body: { key: taken, label: 'x', type: 'text' } }), 422, 'validation_failed', { key: 'taken' });
  }
  await addField(a.access_token, 'contacts', { key: k, label: '联系人的', type: 'text' });
});

test('PATCH /fields: label, options, required, default and position change; the version bumps', async () => {
  const k = key('lvl');
  const f = await addField(a.access_token, 'contacts', { key: k, label: '等级', type: 'select', options: ['金', '银'] });
  const res = await call(a.access_token, 'PATCH', `/api/v1/fields/contacts/${k}`, {
    body: { label: '会员等级', options: ['金', '银', '铜'], required: true, default: '铜', position: 7 },
  });
  const got = expectStatus(res, 200);
  assert.equal(got.label, '会员等级');
  assert.deepEqual(got.options, ['金', '银', '铜']);
  assert.equal(got.required, true);
  assert.equal(got.default, '铜');
  assert.equal(got.position, 7);
  assert.equal(got.type, 'select', 'type stays');
  if (f.version !== undefined) assert.equal(got.version, f.version + 1);
  assert.deepEqual((await fields(a.access_token, 'contacts')).data.find((x) => x.key === k), got);
  // the new option is accepted on records, the default fills in
  const c = await createRecord(a.access_token, 'contacts', { name: '新联系人' });
  assert.equal(c.custom[k], '铜');
  // back to optional, without default
  const opt = expectStatus(await call(a.access_token, 'PATCH', `/api/v1/fields/contacts/${k}`, { body: { required: false, default: null } }), 200);
  assert.equal(opt.required, false);
  assert.equal(opt.default, null);
  const c2 = await createRecord(a.access_token, 'contacts', { name: '无等级联系人' });
  assert.ok(c2.custom[k] === undefined || c2.custom[k] === null);
});

test('PATCH /fields: a default alone on a select or multiselect field is checked against the field\'s own options', async () => {
  const k = key('sel');
  await addField(a.access_token, 'contacts', { key: k, label: '渠道', type: 'select', options: ['线上', '线下'] });
  const got = expectStatus(await call(a.access_token, 'PATCH', `/api/v1/fields/contacts/${k}`, { body: { default: '线下' } }), 200);
  assert.equal(got.default, '线下');
  assertError(await call(a.access_token, 'PATCH', `/api/v1/fields/contacts/${k}`, { body: { default: '电话' } }), 422, 'validation_failed', { default: 'invalid_option' });
  const m = key('multi');
  await addField(a.access_token, 'contacts', { key: m, label: '兴趣', type: 'multiselect', options: ['篮球', '围棋'] });
  assert.deepEqual(expectStatus(await call(a.access_token, 'PATCH', `/api/v1/fields/contacts/${m}`, { body: { default: ['围棋'] } }), 200).default, ['围棋']);
});

test('a default is stored as a written value would be: money with two decimals, e-mail in lower case', async () => {
  const k = key('amt');
  const e = key('mail');
  await addField(a.access_token, 'tasks', { key: k, label: '预算', type: 'money', default: '12.5' });
  await addField(a.access_token, 'tasks', { key: e, label: '抄送', type: 'email', default: 'Boss@Example.COM' });
  const written = await createRecord(a.access_token, 'tasks', { subject: '写入的值', custom: { [k]: '12.5', [e]: 'Boss@Example.COM' } });
  const defaulted = await createRecord(a.access_token, 'tasks', { subject: '默认值' });
  assert.equal(written.custom[k], '12.50');
  assert.equal(defaulted.custom[k], written.custom[k], 'the default money value like a written one');
  assert.equal(defaulted.custom[e], written.custom[e], 'the default e-mail like a written one');
});

test('DELETE /fields of a custom field that a role\'s field security names: the rule goes with it', async () => {
  const k = key('gone');
  await addField(a.access_token, 'leads', { key: k, label: '待删', type: 'text' });
  const r = `fsec-${unique()}`.slice(0, 32);
  expectStatus(await call(a.access_token, 'POST', '/api/v1/roles', { body: { key: r, name: '字段规则', fields: { [`leads.${k}`]: 'hidden', 'leads.email': 'read_only' } } }), 201);
  expectStatus(await call(a.access_token, 'DELETE', `/api/v1/fields/leads/${k}`), 204);
  assert.deepEqual((await role(a.access_token, r)).fields, { 'leads.email': 'read_only' });
});

test('PATCH /fields: bad values answer 422 naming them; a stale version 412; an unknown key 404; nothing changes', async () => {
  const k = key('p');
  const f = await addField(a.access_token, 'customers', { key: k, label: '原名', type: 'text' });
  const path = `/api/v1/fields/customers/${k}`;
  assertError(await call(a.access_token, 'PATCH', path, { body: { label: '' } }), 422, 'validation_failed', { label: 'invalid_value' });
  assertError(await call(a.access_token, 'PATCH', path, { body: { required: 'true' } }), 422, 'validation_failed', { required: 'invalid_type' });
  assertError(await call(a.access_token, 'PATCH', path, { body: { options: ['x'] } }), 422, 'validation_failed', { options: 'invalid_value' });
  assertError(await call(a.access_token, 'PATCH', path, { body: { nonsense: 1 } }), 422, 'validation_failed', { nonsense: 'unknown_field' });
  assertError(await call(a.access_token, 'PATCH', path, { body: { default: 12 } }), 422, 'validation_failed', { default: 'invalid_type' });
  if (f.version !== undefined) {
    assertError(await call(a.access_token, 'PATCH', path, { body: { label: '新名', version: f.version + 5 } }), 412, 'version_conflict');
  }
  assertError(await call(a.access_token, 'PATCH', '/api/v1/fields/customers/no_such_field', { body: { label: 'x' } }), 404, 'not_found');
  assert.deepEqual((await fields(a.access_token, 'customers')).data.find((x) => x.key === k), f, 'unchanged');
});

test('PATCH /fields on a core field: label, position and section change; anything else is read_only (422)', async () => {
  const t = c.access_token;
  const got = expectStatus(await call(t, 'PATCH', '/api/v1/fields/customers/level', { body: { label: '客户等级', position: 20, section: '分级' } }), 200);
  assert.equal(got.label, '客户等级');
  assert.equal(got.core, true);
  assert.deepEqual((await fields(t, 'customers')).layout.find((s) => s.section === '分级')?.fields, ['level']);
  assertError(await call(t, 'PATCH', '/api/v1/fields/customers/level', { body: { required: true } }), 422, 'validation_failed', { required: 'read_only' });
  assertError(await call(t, 'PATCH', '/api/v1/fields/customers/kind', { body: { options: ['company', 'person', 'gov'] } }), 422, 'validation_failed', { options: 'read_only' });
  assertError(await call(t, 'PATCH', '/api/v1/fields/customers/name', { body: { required: false } }), 422, 'validation_failed', { required: 'read_only' });
  // a customer without a name is still refused
  assertError(await call(t, 'POST', '/api/v1/customers', { body: { level: 'A' } }), 422, 'validation_failed', { name: 'required' });
});

test('DELETE /fields: 204; the values leave every record (live and in the recycle bin); the history keeps them', async () => {
  const t = c.access_token;
  await addField(t, 'customers', { key: 'erp_code', label: 'ERP编码', type: 'text' });
  await addField(t, 'customers', { key: 'keep', label: '保留', type: 'text' });
  const c1 = await customer(t, { custom: { erp_code: 'E-001', keep: 'k1' } });
  const c2 = await customer(t, { custom: { erp_code: 'E-002' } });
  expectStatus(await call(t, 'DELETE', `/api/v1/customers/${c2.id}`), 204);
  const res = await call(t, 'DELETE', '/api/v1/fields/customers/erp_code');
  assert.equal(res.status, 204, res.text);
  assert.equal(res.text, '');
  assert.ok(!(await fields(t, 'customers')).data.some((f) => f.key === 'erp_code'), 'the field is gone');
  const got = await getRec(t, 'customers', c1.id);
  assert.deepEqual(got.custom, { keep: 'k1' });
  const restored = expectStatus(await call(t, 'POST', `/api/v1/customers/${c2.id}/restore`), 200);
  assert.deepEqual(restored.custom, {}, 'the binned record lost the value too');
  // writing the deleted field is now an unknown field; filtering on it a bad request
  assertError(await patchRec(t, 'customers', got, { custom: { erp_code: 'E-9' } }), 422, 'validation_failed', { erp_code: 'unknown_field' });
  assertError(await call(t, 'GET', '/api/v1/customers?filter[custom.erp_code]=E-001'), 400, 'bad_request', { 'filter[custom.erp_code]': 'unknown_field' });
  // the history still has the value it was created with
  const hist = expectStatus(await call(t, 'GET', `/api/v1/customers/${c1.id}/history`), 200).data;
  assert.ok(JSON.stringify(hist).includes('E-001'), 'history keeps the old value');
  assertError(await call(t, 'DELETE', '/api/v1/fields/customers/erp_code'), 404, 'not_found');
  // the key can be defined again, empty
  await addField(t, 'customers', { key: 'erp_code', label: 'ERP编码', type: 'number' });
  assert.equal((await getRec(t, 'customers', c1.id)).custom.erp_code, undefined);
});

test('DELETE /fields on a core field answers 409 conflict and the field stays', async () => {
  for (const [object, k] of [['customers', 'name'], ['customers', 'phone'], ['tasks', 'due_at'], ['opportunities', 'amount']]) {
    assertError(await call(a.access_token, 'DELETE', `/api/v1/fields/${object}/${k}`), 409, 'conflict');
    assert.ok((await fields(a.access_token, object)).data.some((f) => f.key === k), `${object}.${k} stays`);
  }
  assertError(await call(a.access_token, 'DELETE', '/api/v1/fields/customers/nothing_here'), 404, 'not_found');
});

test('a required custom field makes a record create without it fail with 422 naming it; with it, 201', async () => {
  const t = c.access_token;
  await addField(t, 'opportunities', { key: 'contract_no', label: '合同号', type: 'text', required: true });
  const cust = await customer(t);
  for (const custom of [undefined, {}, { contract_no: null }, { contract_no: '   ' }]) {
    const body = { name: '必填商机', customer_id: cust.id, ...(custom ? { custom } : {}) };
    assertError(await call(t, 'POST', '/api/v1/opportunities', { body }), 422, 'validation_failed', { contract_no: 'required' });
  }
  const list = expectStatus(await call(t, 'GET', '/api/v1/opportunities'), 200);
  assert.equal(list.data.length, 0, 'nothing stored');
  const opp = await createRecord(t, 'opportunities', { name: '必填商机', customer_id: cust.id, custom: { contract_no: 'HT-2026-01' } });
  assert.equal(opp.custom.contract_no, 'HT-2026-01');
  // PATCH may not blank it
  assertError(await patchRec(t, 'opportunities', opp, { custom: { contract_no: null } }), 422, 'validation_failed', { contract_no: 'required' });
});

test('a unique custom field refuses a second record with the same value (422 not_unique); enabling unique over duplicates is 409', async () => {
  const t = c.access_token;
  await addField(t, 'customers', { key: 'tax_id', label: '税号', type: 'text', unique: true });
  const c1 = await customer(t, { custom: { tax_id: '91440300MA5F' } });
  assertError(await call(t, 'POST', '/api/v1/customers', { body: { name: `另一家 ${unique()}`, custom: { tax_id: '91440300MA5F' } } }), 422, 'validation_failed', { tax_id: 'not_unique' });
  const c2 = await customer(t, { custom: { tax_id: '91440300XXXX' } });
  assertError(await patchRec(t, 'customers', c2, { custom: { tax_id: '91440300MA5F' } }), 422, 'validation_failed', { tax_id: 'not_unique' });
  assert.equal((await getRec(t, 'customers', c1.id)).custom.tax_id, '91440300MA5F');

  // a non-unique field whose records hold the same value twice cannot become unique
  await addField(t, 'customers', { key: 'region_code', label: '区域码', type: 'text' });
  await customer(t, { custom: { region_code: '0755' } });
  await customer(t, { custom: { region_code: '0755' } });
  const res = await call(t, 'PATCH', '/api/v1/fields/customers/region_code', { body: { unique: true } });
  assertError(res, 409, 'conflict');
  assert.equal((await fields(t, 'customers')).data.find((f) => f.key === 'region_code').unique, false, 'stays non-unique');
  await customer(t, { custom: { region_code: '0755' } }); // and still takes a third

  // unique off again: the same value is accepted
  expectStatus(await call(t, 'PATCH', '/api/v1/fields/customers/tax_id', { body: { unique: false } }), 200);
  await customer(t, { custom: { tax_id: '91440300MA5F' } });
  // and on again over the duplicate: 409
  assertError(await call(t, 'PATCH', '/api/v1/fields/customers/tax_id', { body: { unique: true } }), 409, 'conflict');
});

test('lists filter and sort on a custom field (filter[custom.key], sort=custom.key, -custom.key)', async () => {
  const t = c.access_token;
  await addField(t, 'customers', { key: 'batch', label: '批次', type: 'text' });
  await addField(t, 'customers', { key: 'score', label: '评分', type: 'number' });
  await addField(t, 'customers', { key: 'grade', label: '等级', type: 'select', options: ['A', 'B'] });
  const recs = [];
  for (const [score, grade] of [[30, 'A'], [10, 'B'], [20, 'A'], [40, 'B']]) {
    recs.push(await customer(t, { custom: { batch: 'X1', score, grade } }));
  }
  await customer(t, { custom: { batch: 'Y2', score: 99, grade: 'A' } });
  const q = (qs) => call(t, 'GET', `/api/v1/customers?${qs}`).then((r) => expectStatus(r, 200).data);
  const scores = (rows) => rows.map((r) => r.custom.score);
  assert.deepEqual(scores(await q('filter[custom.batch]=X1&sort=custom.score')), [10, 20, 30, 40]);
  assert.deepEqual(scores(await q('filter[custom.batch]=X1&sort=-custom.score')), [40, 30, 20, 10]);
  assert.deepEqual(scores(await q('filter[custom.batch]=X1&filter[custom.score][gte]=20&sort=custom.score')), [20, 30, 40]);
  assert.deepEqual(scores(await q('filter[custom.grade]=A&sort=custom.score')), [20, 30, 99]);
  assert.deepEqual(scores(await q('filter[custom.grade][in]=A,B&filter[custom.score][lt]=25&sort=custom.score')), [10, 20]);
  // paging on a custom sort walks each record once
  const seen = [];
  let cursor = null;
  do {
    const res = expectStatus(await call(t, 'GET', `/api/v1/customers?filter[custom.batch]=X1&sort=custom.score&limit=3${cursor ? `&cursor=${cursor}` : ''}`), 200);
    seen.push(...scores(res.data));
    cursor = res.next_cursor;
  } while (cursor);
  assert.deepEqual(seen, [10, 20, 30, 40]);
  assertError(await call(t, 'GET', '/api/v1/customers?filter[custom.score]=abc'), 400, 'bad_request', { 'filter[custom.score]': 'invalid_value' });
  assertError(await call(t, 'GET', '/api/v1/customers?sort=custom.nothing'), 400, 'bad_request', { sort: 'unknown_field' });
});

testBadBodies('POST /fields/customers', { path: '/api/v1/fields/customers', token: () => a.access_token, body: { key: 'bad_body', label: 'x', type: 'text' } });
testBadBodies('PATCH /fields/customers/name', { method: 'PATCH', path: '/api/v1/fields/customers/name', token: () => a.access_token, body: { label: '客户名称' } });

test('isolation: B sees none of A\'s custom fields, cannot change or delete them (404), and A\'s stay', async () => {
  const k = key('iso');
  await addField(a.access_token, 'customers', { key: k, label: '甲的字段', type: 'text' });
  assert.ok(!(await fields(b.access_token, 'customers')).data.some((f) => f.key === k), 'B does not list it');
  assertError(await call(b.access_token, 'PATCH', `/api/v1/fields/customers/${k}`, { body: { label: '乙改的' } }), 404, 'not_found');
  assertError(await call(b.access_token, 'DELETE', `/api/v1/fields/customers/${k}`), 404, 'not_found');
  assertError(await call(b.access_token, 'POST', '/api/v1/customers', { body: { name: `乙客户 ${unique()}`, custom: { [k]: 'v' } } }), 422, 'validation_failed', { [k]: 'unknown_field' });
  // B may define the same key for itself; A's stays as it was
  await addField(b.access_token, 'customers', { key: k, label: '乙的字段', type: 'number' });
  assert.equal((await fields(a.access_token, 'customers')).data.find((f) => f.key === k).label, '甲的字段');
  assert.equal((await fields(b.access_token, 'customers')).data.find((f) => f.key === k).type, 'number');
  // B changing a core label does not touch A's
  expectStatus(await call(b.access_token, 'PATCH', '/api/v1/fields/customers/industry', { body: { label: '乙行业' } }), 200);
  assert.equal((await fields(a.access_token, 'customers')).data.find((f) => f.key === 'industry').label, '行业');
});

/* ---------------------------------------------------------------- roles */

const DEFAULT_ROLES = ['owner', 'admin', 'manager', 'sales', 'service', 'read-only'];

test('GET /roles lists the default roles and every permission key', async () => {
  const json = await roles(a.access_token);
  assert.deepEqual(DEFAULT_ROLES.filter((k) => !json.data.some((r) => r.key === k)), [], 'every default role is listed');
  for (const r of json.data) assertKeys(r, ROLE_KEYS, `role ${r.key}`);
  const byKey = Object.fromEntries(json.data.map((r) => [r.key, r]));
  assert.equal(byKey.owner.is_system, true);
  assert.equal(byKey.owner.record_scope, 'all');
  assert.equal(byKey.manager.record_scope, 'team');
  assert.equal(byKey.sales.record_scope, 'own');
  assert.equal(byKey['read-only'].record_scope, 'all');
  assert.deepEqual(byKey.sales.fields, {});
  assert.ok(byKey.sales.permissions.includes('customers.create'));
  assert.ok(!byKey.sales.permissions.includes('customers.delete'));
  assert.ok(Array.isArray(json.permission_keys), 'permission_keys');
  for (const o of OBJECTS) {
    for (const act of ['read', 'create', 'update', 'delete', 'export']) {
      assert.ok(json.permission_keys.includes(`${o}.${act}`), `${o}.${act}`);
    }
  }
  for (const k of ['members.read', 'members.manage', 'roles.manage', 'settings.manage', 'data.export']) {
    assert.ok(json.permission_keys.includes(k), k);
  }
  for (const r of json.data) {
    for (const p of r.permissions) assert.ok(json.permission_keys.includes(p), `${r.key} holds a known key ${p}`);
  }
});

test('roles: members.read reads them (sales: 200), roles.manage writes them (sales: 403), a token is needed (401)', async () => {
  await roles(aSales.access_token);
  assertError(await api('GET', '/api/v1/roles'), 401, 'unauthorized');
  assertError(await call(aSales.access_token, 'POST', '/api/v1/roles', { body: { key: 'sneaky', name: '偷偷' } }), 403, 'forbidden');
  assertError(await call(aSales.access_token, 'PATCH', '/api/v1/roles/sales', { body: { permissions: ['customers.delete'] } }), 403, 'forbidden');
  assert.ok(!(await role(a.access_token, 'sneaky')));
  assert.ok(!(await role(a.access_token, 'sales')).permissions.includes('customers.delete'));
});

test('GET /roles: roles.manage or settings.manage read them without members.read (claim limits, rule editor); none of the three 403', async () => {
  for (const [perm, status] of [['settings.manage', 200], ['roles.manage', 200], ['customers.read', 403]]) {
    const k = `g${unique()}`.slice(0, 32);
    expectStatus(await call(a.access_token, 'POST', '/api/v1/roles', { body: { key: k, name: `只有 ${perm}`, permissions: [perm] } }), 201);
    const m = await addMember(a.access_token, { role: k });
    const res = await call(m.access_token, 'GET', '/api/v1/roles');
    if (status === 200) assert.ok(expectStatus(res, 200).data.some((r) => r.key === k), perm);
    else assertError(res, 403, 'forbidden');
  }
});

test('POST /roles creates a role (201) with its scope and permissions; it is listed and can be given to a member', async () => {
  const k = `auditor-${unique()}`.slice(0, 32);
  const res = await call(a.access_token, 'POST', '/api/v1/roles', {
    body: { key: k, name: '审计', record_scope: 'all', permissions: ['customers.read', 'leads.read', 'customers.export', 'customers.read'] },
  });
  const r = expectStatus(res, 201);
  assertKeys(r, ROLE_KEYS, 'role');
  assert.equal(r.key, k);
  assert.equal(r.name, '审计');
  assert.equal(r.record_scope, 'all');
  assert.deepEqual([...r.permissions].sort(), ['customers.export', 'customers.read', 'leads.read'], 'distinct permissions');
  assert.equal(r.is_system, false);
  assert.deepEqual(r.fields, {});
  assert.deepEqual(await role(a.access_token, k), r);
  const m = await addMember(a.access_token, { role: k, name: '审计员' });
  expectStatus(await call(m.access_token, 'GET', '/api/v1/customers'), 200);
  assertError(await call(m.access_token, 'GET', '/api/v1/tasks'), 403, 'forbidden');
  assertError(await call(m.access_token, 'POST', '/api/v1/customers', { body: { name: `审计建的 ${unique()}` } }), 403, 'forbidden');
  // a role without a scope gets 'own'
  const own = expectStatus(await call(a.access_token, 'POST', '/api/v1/roles', { body: { key: `r${unique()}`.slice(0, 32), name: '默认范围' } }), 201);
  assert.equal(own.record_scope, 'own');
  assert.deepEqual(own.permissions, []);
});

const BAD_ROLES = [
  ['no key', { name: 'x' }, { key: 'invalid_format' }],
  ['a key with capitals', { key: 'Bad', name: 'x' }, { key: 'invalid_format' }],
  ['a key of 33 characters', { key: 'a'.repeat(33), name: 'x' }, { key: 'invalid_format' }],
  ['an existing key', { key: 'sales', name: 'x' }, { key: 'taken' }],
  ['the owner key', { key: 'owner', name: 'x' }, { key: 'taken' }],
  ['no name', { key: 'nameless' }, { name: 'required' }],
  ['an empty name', { key: 'emptyname', name: ' ' }, { name: 'invalid_value' }],
  ['a name of 51 characters', { key: 'longname', name: '名'.repeat(51) }, { name: 'invalid_value' }],
  ['an unknown scope', { key: 'badscope', name: 'x', record_scope: 'everyone' }, { record_scope: 'invalid_option' }],
  ['an unknown permission key', { key: 'badperm', name: 'x', permissions: ['customers.read', 'customers.fly'] }, { permissions: 'invalid_value' }],
  ['permissions as a string', { key: 'badperm2', name: 'x', permissions: 'customers.read' }, { permissions: 'invalid_value' }],
  ['a permission that is a number', { key: 'badperm3', name: 'x', permissions: [1] }, { permissions: 'invalid_value' }],
  ['fields naming an unknown field', { key: 'badfld', name: 'x', fields: { 'customers.nothing': 'hidden' } }, { fields: 'invalid_value' }],
  ['fields with an unknown access', { key: 'badfld2', name: 'x', fields: { 'customers.phone': 'secret' } }, { fields: 'invalid_value' }],
  ['fields as an array', { key: 'badfld3', name: 'x', fields: ['customers.phone'] }, { fields: 'invalid_value' }],
  ['an unknown property', { key: 'badprop', name: 'x', color: 'red' }, { color: 'unknown_field' }],
];

for (const [what, body, expected] of BAD_ROLES) {
  test(`POST /roles: ${what} → 422 naming it; nothing is created`, async () => {
    const before = (await roles(a.access_token)).data;
    assertError(await call(a.access_token, 'POST', '/api/v1/roles', { body }), 422, 'validation_failed', expected);
    assert.deepEqual((await roles(a.access_token)).data, before);
  });
}

test('PATCH /roles/{key}: scope, permissions, name and fields change; the version bumps; bad values 422; stale 412; unknown 404', async () => {
  const k = `r-${unique()}`.slice(0, 32);
  const r = expectStatus(await call(a.access_token, 'POST', '/api/v1/roles', { body: { key: k, name: '客服二组', record_scope: 'own', permissions: ['customers.read'] } }), 201);
  const res = await call(a.access_token, 'PATCH', `/api/v1/roles/${k}`, {
    body: { name: '客服一组', record_scope: 'team', permissions: ['customers.read', 'customers.update', 'tasks.read'], fields: { 'customers.phone': 'hidden', 'customers.level': 'read_only' } },
  });
  const got = expectStatus(res, 200);
  assert.equal(got.name, '客服一组');
  assert.equal(got.record_scope, 'team');
  assert.deepEqual([...got.permissions].sort(), ['customers.read', 'customers.update', 'tasks.read']);
  assert.deepEqual(got.fields, { 'customers.phone': 'hidden', 'customers.level': 'read_only' });
  assert.equal(got.version, r.version + 1);
  assert.deepEqual(await role(a.access_token, k), got);
  // fields replaces the rules; a partial body keeps the rest
  const got2 = expectStatus(await call(a.access_token, 'PATCH', `/api/v1/roles/${k}`, { body: { fields: { 'leads.email': 'hidden' } } }), 200);
  assert.deepEqual(got2.fields, { 'leads.email': 'hidden' });
  assert.equal(got2.record_scope, 'team');
  assert.deepEqual([...got2.permissions].sort(), ['customers.read', 'customers.update', 'tasks.read']);
  const path = `/api/v1/roles/${k}`;
  assertError(await call(a.access_token, 'PATCH', path, { body: { permissions: ['customers.read', 'nope.read'] } }), 422, 'validation_failed', { permissions: 'invalid_value' });
  assertError(await call(a.access_token, 'PATCH', path, { body: { record_scope: 'galaxy' } }), 422, 'validation_failed', { record_scope: 'invalid_option' });
  assertError(await call(a.access_token, 'PATCH', path, { body: { fields: { 'customers.phone': 'write_only' } } }), 422, 'validation_failed', { fields: 'invalid_value' });
  assertError(await call(a.access_token, 'PATCH', path, { body: { key: 'renamed', is_system: true } }), 422, 'validation_failed', { is_system: 'unknown_field' });
  assertError(await call(a.access_token, 'PATCH', path, { body: { name: '旧版本', version: got.version } }), 412, 'version_conflict');
  assertError(await call(a.access_token, 'PATCH', '/api/v1/roles/no-such-role', { body: { name: 'x' } }), 404, 'not_found');
  assert.deepEqual(await role(a.access_token, k), got2, 'unchanged by the refused PATCHes');
});

test('PATCH /roles/owner answers 403 forbidden, whatever the body, and the owner role stays', async () => {
  const before = await role(a.access_token, 'owner');
  for (const body of [{ name: '老板' }, { permissions: [] }, { record_scope: 'own' }, { fields: { 'customers.phone': 'hidden' } }, {}]) {
    assertError(await call(a.access_token, 'PATCH', '/api/v1/roles/owner', { body }), 403, 'forbidden');
  }
  assert.deepEqual(await role(a.access_token, 'owner'), before);
  expectStatus(await call(a.access_token, 'GET', '/api/v1/customers'), 200);
});

test('role changes apply at once to the live sessions of its members (rights, scope, field security)', async () => {
  const owner = d;
  const t = owner.access_token;
  const k = 'desk';
  expectStatus(await call(t, 'POST', '/api/v1/roles', { body: { key: k, name: '前台', record_scope: 'all', permissions: ['customers.read'] } }), 201);
  const m = await addMember(t, { role: k, name: '前台小王' });
  const theirs = await customer(t, { phone: '13912345678', level: 'A' });
  const mt = m.access_token;
  expectStatus(await call(mt, 'GET', '/api/v1/customers'), 200);
  assertError(await call(mt, 'GET', '/api/v1/leads'), 403, 'forbidden');

  expectStatus(await call(t, 'PATCH', `/api/v1/roles/${k}`, { body: { permissions: ['customers.read', 'leads.read', 'customers.update'] } }), 200);
  expectStatus(await call(mt, 'GET', '/api/v1/leads'), 200);
  const seen = await getRec(mt, 'customers', theirs.id);
  assert.equal(seen.phone, '13912345678');

  expectStatus(await call(t, 'PATCH', `/api/v1/roles/${k}`, { body: { fields: { 'customers.phone': 'hidden', 'customers.level': 'read_only' } } }), 200);
  const hidden = await getRec(mt, 'customers', theirs.id);
  assert.ok(!('phone' in hidden), 'phone hidden at once');
  assertError(await patchRec(mt, 'customers', hidden, { level: 'B' }), 403, 'field_forbidden', { level: 'read_only' });

  expectStatus(await call(t, 'PATCH', `/api/v1/roles/${k}`, { body: { record_scope: 'own' } }), 200);
  assertError(await call(mt, 'GET', `/api/v1/customers/${theirs.id}`), 404, 'not_found');
  assert.deepEqual(expectStatus(await call(mt, 'GET', '/api/v1/customers'), 200).data, []);

  expectStatus(await call(t, 'PATCH', `/api/v1/roles/${k}`, { body: { permissions: [] } }), 200);
  assertError(await call(mt, 'GET', '/api/v1/customers'), 403, 'forbidden');
  assertError(await call(mt, 'GET', '/api/v1/leads'), 403, 'forbidden');
});

test('PATCH /roles/sales with a changed permission affects sales members only, not other roles', async () => {
  const owner = d;
  const t = owner.access_token;
  const s = await addMember(t, { role: 'sales' });
  const mgr = await addMember(t, { role: 'manager' });
  const sales = await role(t, 'sales');
  expectStatus(await call(t, 'PATCH', '/api/v1/roles/sales', { body: { permissions: sales.permissions.filter((p) => !p.startsWith('leads.')) } }), 200);
  assertError(await call(s.access_token, 'GET', '/api/v1/leads'), 403, 'forbidden');
  expectStatus(await call(mgr.access_token, 'GET', '/api/v1/leads'), 200);
  expectStatus(await call(s.access_token, 'GET', '/api/v1/customers'), 200);
});

testBadBodies('POST /roles', { path: '/api/v1/roles', token: () => a.access_token, body: { key: 'bodyrole', name: 'x' } });
testBadBodies('PATCH /roles/sales', { method: 'PATCH', path: '/api/v1/roles/sales', token: () => a.access_token, body: { name: '销售' } });

test('isolation: B does not list A\'s roles, cannot change them (404); A changing its sales role leaves B\'s as it was', async () => {
  const k = `only-a-${unique()}`.slice(0, 32);
  expectStatus(await call(a.access_token, 'POST', '/api/v1/roles', { body: { key: k, name: '甲专属', permissions: ['customers.read'] } }), 201);
  assert.ok(!(await role(b.access_token, k)), 'B does not list it');
  assertError(await call(b.access_token, 'PATCH', `/api/v1/roles/${k}`, { body: { name: '乙改' } }), 404, 'not_found');
  const bSales = await role(b.access_token, 'sales');
  const t = d.access_token;
  const other = await role(t, 'sales');
  expectStatus(await call(t, 'PATCH', '/api/v1/roles/sales', { body: { name: '销售代表', fields: { 'customers.email': 'hidden' } } }), 200);
  assert.deepEqual(await role(b.access_token, 'sales'), bSales, 'B\'s sales role is unchanged');
  assert.notDeepEqual(await role(t, 'sales'), other);
  // B may create a role with the key A used
  expectStatus(await call(b.access_token, 'POST', '/api/v1/roles', { body: { key: k, name: '乙同名' } }), 201);
  assert.equal((await role(a.access_token, k)).name, '甲专属');
});

/* ---------------------------------------------------------------- pipelines */

test('GET /pipelines: a new tenant has the template\'s default pipeline with six ordered stages', async () => {
  const list = await pipelines(b.access_token);
  assert.equal(list.length, 1);
  const [p] = list;
  assertKeys(p, PIPELINE_KEYS, 'pipeline');
  assert.equal(p.is_default, true);
  assert.equal(p.name, '销售流程');
  assert.deepEqual(p.stages.map((s) => s.name), ['初步接触', '需求确认', '方案报价', '商务谈判', '赢单', '输单']);
  assert.deepEqual(p.stages.map((s) => s.position), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(p.stages.map((s) => s.kind), ['open', 'open', 'open', 'open', 'won', 'lost']);
  for (const s of p.stages) assertKeys(s, STAGE_KEYS, 'stage');
  expectStatus(await call(aSales.access_token, 'GET', '/api/v1/pipelines'), 200);
  assertError(await api('GET', '/api/v1/pipelines'), 401, 'unauthorized');
});

test('POST /pipelines creates a pipeline (201) with its stages in order; it is listed, not default', async () => {
  const res = await call(a.access_token, 'POST', '/api/v1/pipelines', { body: { name: '渠道销售', stages: STAGES } });
  const p = expectStatus(res, 201);
  assertKeys(p, PIPELINE_KEYS, 'pipeline');
  assert.equal(p.name, '渠道销售');
  assert.equal(p.is_default, false);
  assert.deepEqual(p.stages.map(({ name, probability, kind }) => ({ name, probability, kind })), STAGES);
  assert.deepEqual(p.stages.map((s) => s.position), [0, 1, 2, 3]);
  assert.equal(new Set(p.stages.map((s) => s.id)).size, 4);
  assert.deepEqual((await pipelines(a.access_token)).find((x) => x.id === p.id), p);
  // an opportunity may be put in one of its stages
  const c = await customer(a.access_token);
  const opp = await createRecord(a.access_token, 'opportunities', { name: '渠道单', customer_id: c.id, stage_id: p.stages[1].id });
  assert.equal(opp.pipeline_id, p.id);
  assert.equal(opp.probability, 50);
});

test('PATCH /pipelines: stages reordered, renamed and added keep their ids; an opportunity keeps its stage', async () => {
  const t = a.access_token;
  const p = expectStatus(await call(t, 'POST', '/api/v1/pipelines', { body: { name: `项目制 ${unique()}`, stages: STAGES } }), 201);
  const [s0, s1, s2, s3] = p.stages;
  const c = await customer(t);
  const opp = await createRecord(t, 'opportunities', { name: '项目单', customer_id: c.id, stage_id: s1.id });
  const res = await call(t, 'PATCH', `/api/v1/pipelines/${p.id}`, {
    body: {
      name: '项目制（新）',
      stages: [
        { id: s1.id, name: '方案报价', probability: 60, kind: 'open' },
        { id: s0.id, name: '初次接触', probability: 10, kind: 'open' },
        { name: '商务谈判', probability: 80, kind: 'open' },
        { id: s2.id, name: '赢单', probability: 100, kind: 'won' },
        { id: s3.id, name: '输单', probability: 0, kind: 'lost' },
      ],
    },
  });
  const got = expectStatus(res, 200);
  assert.equal(got.name, '项目制（新）');
  assert.equal(got.version, p.version + 1);
  assert.deepEqual(got.stages.map((s) => s.name), ['方案报价', '初次接触', '商务谈判', '赢单', '输单']);
  assert.deepEqual(got.stages.map((s) => s.position), [0, 1, 2, 3, 4]);
  assert.equal(got.stages[0].id, s1.id);
  assert.equal(got.stages[1].id, s0.id);
  assert.ok(![s0.id, s1.id, s2.id, s3.id].includes(got.stages[2].id), 'the new stage has a new id');
  assert.equal(got.stages[3].id, s2.id);
  assert.equal(got.stages[4].id, s3.id);
  assert.equal(got.stages[0].probability, 60);
  const still = await getRec(t, 'opportunities', opp.id);
  assert.equal(still.stage_id, s1.id);
  assert.equal(still.pipeline_id, p.id);
  assert.deepEqual((await pipelines(t)).find((x) => x.id === p.id), got);
  // a name-only PATCH keeps the stages
  const renamed = expectStatus(await call(t, 'PATCH', `/api/v1/pipelines/${p.id}`, { body: { name: '项目制' } }), 200);
  assert.deepEqual(renamed.stages, got.stages);
  // dropping the empty stage (商务谈判) works
  const dropped = expectStatus(await call(t, 'PATCH', `/api/v1/pipelines/${p.id}`, {
    body: { stages: got.stages.filter((s) => s.name !== '商务谈判') },
  }), 200);
  assert.deepEqual(dropped.stages.map((s) => s.id), [s1.id, s0.id, s2.id, s3.id]);
});

test('PATCH /pipelines removing a stage that holds opportunities (even binned ones) answers 409 and changes nothing', async () => {
  const t = a.access_token;
  const p = expectStatus(await call(t, 'POST', '/api/v1/pipelines', { body: { name: `守护 ${unique()}`, stages: STAGES } }), 201);
  const c = await customer(t);
  const opp = await createRecord(t, 'opportunities', { name: '占位', customer_id: c.id, stage_id: p.stages[1].id });
  const without = p.stages.filter((s) => s.id !== p.stages[1].id);
  assertError(await call(t, 'PATCH', `/api/v1/pipelines/${p.id}`, { body: { stages: without } }), 409, 'conflict');
  assert.deepEqual((await pipelines(t)).find((x) => x.id === p.id), p, 'unchanged');
  expectStatus(await call(t, 'DELETE', `/api/v1/opportunities/${opp.id}`), 204);
  assertError(await call(t, 'PATCH', `/api/v1/pipelines/${p.id}`, { body: { stages: without } }), 409, 'conflict');
  assert.deepEqual((await pipelines(t)).find((x) => x.id === p.id), p, 'unchanged');
});

test('DELETE /pipelines: the default one 409, one with opportunities (even binned) 409, an empty one 204 and gone', async () => {
  const t = a.access_token;
  const def = (await pipelines(t)).find((x) => x.is_default);
  assertError(await call(t, 'DELETE', `/api/v1/pipelines/${def.id}`), 409, 'conflict');
  const p = expectStatus(await call(t, 'POST', '/api/v1/pipelines', { body: { name: `有商机 ${unique()}`, stages: STAGES } }), 201);
  const c = await customer(t);
  const opp = await createRecord(t, 'opportunities', { name: '占位', customer_id: c.id, stage_id: p.stages[0].id });
  assertError(await call(t, 'DELETE', `/api/v1/pipelines/${p.id}`), 409, 'conflict');
  expectStatus(await call(t, 'DELETE', `/api/v1/opportunities/${opp.id}`), 204);
  assertError(await call(t, 'DELETE', `/api/v1/pipelines/${p.id}`), 409, 'conflict');
  assert.ok((await pipelines(t)).some((x) => x.id === p.id));
  const empty = expectStatus(await call(t, 'POST', '/api/v1/pipelines', { body: { name: `空的 ${unique()}`, stages: STAGES } }), 201);
  const res = await call(t, 'DELETE', `/api/v1/pipelines/${empty.id}`);
  assert.equal(res.status, 204, res.text);
  assert.ok(!(await pipelines(t)).some((x) => x.id === empty.id));
  assertError(await call(t, 'DELETE', `/api/v1/pipelines/${empty.id}`), 404, 'not_found');
  assertError(await call(t, 'PATCH', `/api/v1/pipelines/${empty.id}`, { body: { name: 'x' } }), 404, 'not_found');
  assertError(await call(t, 'POST', '/api/v1/opportunities', { body: { name: '孤儿', customer_id: c.id, stage_id: empty.stages[0].id } }), 422, 'validation_failed', { stage_id: 'invalid_value' });
});

test('is_default:true makes a pipeline the only default; new opportunities start in its first stage', async () => {
  const t = d.access_token;
  const old = (await pipelines(t))[0];
  const p = expectStatus(await call(t, 'POST', '/api/v1/pipelines', { body: { name: '新默认', stages: STAGES, is_default: true } }), 201);
  assert.equal(p.is_default, true);
  const list = await pipelines(t);
  assert.deepEqual(list.filter((x) => x.is_default).map((x) => x.id), [p.id]);
  const c = await customer(t);
  const opp = await createRecord(t, 'opportunities', { name: '默认流程商机', customer_id: c.id });
  assert.equal(opp.pipeline_id, p.id);
  assert.equal(opp.stage_id, p.stages[0].id);
  // the former default has no opportunities and is no longer default: it may go
  expectStatus(await call(t, 'DELETE', `/api/v1/pipelines/${old.id}`), 204);
  assertError(await call(t, 'DELETE', `/api/v1/pipelines/${p.id}`), 409, 'conflict');
});

const BAD_PIPELINES = [
  ['no name', { stages: STAGES }, { name: 'required' }],
  ['an empty name', { name: ' ', stages: STAGES }, { name: 'invalid_value' }],
  ['a name of 51 characters', { name: '流'.repeat(51), stages: STAGES }, { name: 'invalid_value' }],
  ['a numeric name', { name: 5, stages: STAGES }, { name: 'invalid_value' }],
  ['no stages', { name: 'x' }, { stages: 'required' }],
  ['empty stages', { name: 'x', stages: [] }, { stages: 'invalid_value' }],
  ['stages as an object', { name: 'x', stages: { a: 1 } }, { stages: 'invalid_value' }],
  ['31 stages', { name: 'x', stages: Array.from({ length: 31 }, (_, i) => ({ name: `s${i}`, probability: 1, kind: 'open' })) }, { stages: 'invalid_value' }],
  ['a stage without a name', { name: 'x', stages: [{ probability: 10, kind: 'open' }] }, { stages: 'invalid_value' }],
  ['a stage with probability 101', { name: 'x', stages: [{ name: 'a', probability: 101, kind: 'open' }] }, { stages: 'invalid_value' }],
  ['a stage with probability -1', { name: 'x', stages: [{ name: 'a', probability: -1, kind: 'open' }] }, { stages: 'invalid_value' }],
  ['a stage with probability 10.5', { name: 'x', stages: [{ name: 'a', probability: 10.5, kind: 'open' }] }, { stages: 'invalid_value' }],
  ['a stage with probability "10"', { name: 'x', stages: [{ name: 'a', probability: '10', kind: 'open' }] }, { stages: 'invalid_value' }],
  ['a stage with an unknown kind', { name: 'x', stages: [{ name: 'a', probability: 10, kind: 'maybe' }] }, { stages: 'invalid_value' }],
  ['a stage without a kind', { name: 'x', stages: [{ name: 'a', probability: 10 }] }, { stages: 'invalid_value' }],
  ['no open stage', { name: 'x', stages: [{ name: 'w', probability: 100, kind: 'won' }, { name: 'l', probability: 0, kind: 'lost' }] }, { stages: 'invalid_value' }],
  ['a stage that is a string', { name: 'x', stages: ['a'] }, { stages: 'invalid_value' }],
  ['an id that is a string', { name: 'x', stages: [{ id: '1', name: 'a', probability: 10, kind: 'open' }] }, { stages: 'invalid_value' }],
  ['is_default as a string', { name: 'x', stages: STAGES, is_default: 'yes' }, { is_default: 'invalid_type' }],
  ['an unknown property', { name: 'x', stages: STAGES, color: 'red' }, { color: 'unknown_field' }],
];

for (const [what, body, expected] of BAD_PIPELINES) {
  test(`POST /pipelines: ${what} → 422 naming it; nothing is created`, async () => {
    const before = await pipelines(a.access_token);
    assertError(await call(a.access_token, 'POST', '/api/v1/pipelines', { body }), 422, 'validation_failed', expected);
    assert.equal((await pipelines(a.access_token)).length, before.length);
  });
}

test('PATCH /pipelines: bad stages 422, a stage id of another pipeline 422, a stale version 412; nothing changes', async () => {
  const t = a.access_token;
  const p = expectStatus(await call(t, 'POST', '/api/v1/pipelines', { body: { name: `改坏 ${unique()}`, stages: STAGES } }), 201);
  const def = (await pipelines(t)).find((x) => x.is_default);
  const path = `/api/v1/pipelines/${p.id}`;
  assertError(await call(t, 'PATCH', path, { body: { stages: [] } }), 422, 'validation_failed', { stages: 'invalid_value' });
  assertError(await call(t, 'PATCH', path, { body: { stages: [{ id: def.stages[0].id, name: '偷来的', probability: 10, kind: 'open' }] } }), 422, 'validation_failed', { stages: 'invalid_value' });
  assertError(await call(t, 'PATCH', path, { body: { stages: [{ id: 999999, name: '没有', probability: 10, kind: 'open' }] } }), 422, 'validation_failed', { stages: 'invalid_value' });
  assertError(await call(t, 'PATCH', path, { body: { name: '' } }), 422, 'validation_failed', { name: 'invalid_value' });
  assertError(await call(t, 'PATCH', path, { body: { name: '旧的', version: p.version + 3 } }), 412, 'version_conflict');
  assertError(await call(t, 'PATCH', '/api/v1/pipelines/999999', { body: { name: 'x' } }), 404, 'not_found');
  assert.deepEqual((await pipelines(t)).find((x) => x.id === p.id), p);
  assert.deepEqual((await pipelines(t)).find((x) => x.id === def.id), def);
});

test('pipelines: only settings.manage writes them (sales 403)', async () => {
  const def = (await pipelines(a.access_token)).find((x) => x.is_default);
  assertError(await call(aSales.access_token, 'POST', '/api/v1/pipelines', { body: { name: '销售建', stages: STAGES } }), 403, 'forbidden');
  assertError(await call(aSales.access_token, 'PATCH', `/api/v1/pipelines/${def.id}`, { body: { name: '销售改' } }), 403, 'forbidden');
  assertError(await call(aSales.access_token, 'DELETE', `/api/v1/pipelines/${def.id}`), 403, 'forbidden');
  assert.equal((await pipelines(a.access_token)).find((x) => x.id === def.id).name, def.name);
});

test('PATCH /pipelines: the same stage id twice answers 422 stages; nothing changes', async () => {
  const t = a.access_token;
  const p = expectStatus(await call(t, 'POST', '/api/v1/pipelines', { body: { name: `重复阶段 ${unique()}`, stages: STAGES } }), 201);
  const [s0, s1, s2, s3] = p.stages;
  const twice = [{ ...s0, name: '甲' }, { ...s0, name: '乙' }, s1, s2, s3];
  assertError(await call(t, 'PATCH', `/api/v1/pipelines/${p.id}`, { body: { stages: twice } }), 422, 'validation_failed', { stages: 'invalid_value' });
  assert.deepEqual((await pipelines(t)).find((x) => x.id === p.id), p, 'unchanged');
});

test('PATCH /pipelines: a fractional or huge stage id answers 422 stages, never 400 or 500; nothing changes', async () => {
  const t = a.access_token;
  const p = expectStatus(await call(t, 'POST', '/api/v1/pipelines', { body: { name: `怪阶段 ${unique()}`, stages: STAGES } }), 201);
  const path = `/api/v1/pipelines/${p.id}`;
  assertError(await call(t, 'PATCH', path, { body: { stages: [{ id: p.stages[0].id + 0.5, name: 'x', probability: 10, kind: 'open' }] } }), 422, 'validation_failed', { stages: 'invalid_value' });
  assertError(await call(t, 'PATCH', path, { body: { stages: [{ id: 1e20, name: 'x', probability: 10, kind: 'open' }] } }), 422, 'validation_failed', { stages: 'invalid_value' });
  assert.deepEqual((await pipelines(t)).find((x) => x.id === p.id), p, 'unchanged');
});

test('POST /pipelines: a probability written 50.0 is the integer 50 (201), not a 400', async () => {
  const raw = `{"name":"小数概率 ${unique()}","stages":[{"name":"a","probability":50.0,"kind":"open"},{"name":"b","probability":1e2,"kind":"won"}]}`;
  const p = expectStatus(await call(a.access_token, 'POST', '/api/v1/pipelines', { raw }), 201);
  assert.deepEqual(p.stages.map((s) => s.probability), [50, 100]);
});

testBadBodies('POST /pipelines', { path: '/api/v1/pipelines', token: () => a.access_token, body: { name: 'x', stages: STAGES } });
testBadBodies('PATCH /pipelines/1', { method: 'PATCH', path: '/api/v1/pipelines/1', token: () => a.access_token, body: { name: '销售流程' } });

test('isolation: B cannot change or delete A\'s pipeline (404) and does not list it; B\'s default pipeline is unaffected', async () => {
  const bBefore = await pipelines(b.access_token);
  const maxB = Math.max(...bBefore.map((x) => x.id));
  let p;
  do {
    p = expectStatus(await call(a.access_token, 'POST', '/api/v1/pipelines', { body: { name: `甲流程 ${unique()}`, stages: STAGES } }), 201);
  } while (p.id <= maxB);
  assert.ok(!(await pipelines(b.access_token)).some((x) => x.name === p.name));
  assertError(await call(b.access_token, 'PATCH', `/api/v1/pipelines/${p.id}`, { body: { name: '乙改' } }), 404, 'not_found');
  assertError(await call(b.access_token, 'DELETE', `/api/v1/pipelines/${p.id}`), 404, 'not_found');
  assert.equal((await pipelines(a.access_token)).find((x) => x.id === p.id).name, p.name);
  // B cannot put an opportunity into A's stage
  const c = await customer(b.access_token);
  assertError(await call(b.access_token, 'POST', '/api/v1/opportunities', { body: { name: '越界', customer_id: c.id, stage_id: p.stages[0].id } }), 422, 'validation_failed', { stage_id: 'invalid_value' });
  // A renaming its default pipeline leaves B's
  const aDef = (await pipelines(a.access_token)).find((x) => x.is_default);
  expectStatus(await call(a.access_token, 'PATCH', `/api/v1/pipelines/${aDef.id}`, { body: { name: '甲的默认流程' } }), 200);
  assert.deepEqual(await pipelines(b.access_token), bBefore);
});

/* ---------------------------------------------------------------- tags */

test('POST /tags creates a tag (201 {id, name, color}); GET lists the tags by name', async () => {
  const t = a.access_token;
  const n = unique();
  const vip = expectStatus(await call(t, 'POST', '/api/v1/tags', { body: { name: `重要客户 ${n}`, color: '#FF0000' } }), 201);
  assertKeys(vip, ['id', 'name', 'color'], 'tag');
  assert.equal(vip.name, `重要客户 ${n}`);
  assert.equal(vip.color, '#FF0000');
  const plain = expectStatus(await call(t, 'POST', '/api/v1/tags', { body: { name: `  alpha ${n}  ` } }), 201);
  assert.equal(plain.name, `alpha ${n}`, 'trimmed');
  assert.equal(plain.color, null);
  const list = await tags(t);
  const names = list.map((x) => x.name);
  assert.deepEqual(names, [...names].sort(), 'by name');
  assert.deepEqual(list.find((x) => x.id === vip.id), vip);
  assert.deepEqual(list.find((x) => x.id === plain.id), plain);
  assert.deepEqual(await tags(aSales.access_token), list, 'members read the tags');
  assertError(await call(aSales.access_token, 'POST', '/api/v1/tags', { body: { name: `销售加的 ${n}` } }), 403, 'forbidden');
  assertError(await call(aSales.access_token, 'PATCH', `/api/v1/tags/${vip.id}`, { body: { name: '销售改的' } }), 403, 'forbidden');
  assertError(await call(aSales.access_token, 'DELETE', `/api/v1/tags/${vip.id}`), 403, 'forbidden');
  assert.deepEqual(await tags(t), list, 'unchanged');
  assertError(await api('GET', '/api/v1/tags'), 401, 'unauthorized');
});

test('PATCH /tags renames the tag on every record of every object; the color changes alone', async () => {
  const t = a.access_token;
  const n = unique();
  const [vip, gold] = [`vip ${n}`, `金牌 ${n}`];
  const tag = expectStatus(await call(t, 'POST', '/api/v1/tags', { body: { name: vip, color: '#00aa00' } }), 201);
  const c1 = await customer(t, { tags: [vip, '华南'] });
  const both = await customer(t, { tags: [vip, gold] });
  const lead = await createRecord(t, 'leads', { name: '线索', tags: [vip] });
  const task = await createRecord(t, 'tasks', { subject: '回访', tags: [vip, '紧急'] });
  const other = await customer(t, { tags: [`${vip}2`] });
  const res = await call(t, 'PATCH', `/api/v1/tags/${tag.id}`, { body: { name: gold } });
  const got = expectStatus(res, 200);
  assert.deepEqual(got, { ...tag, name: gold });
  assert.deepEqual((await getRec(t, 'customers', c1.id)).tags.sort(), ['华南', gold].sort());
  assert.deepEqual((await getRec(t, 'customers', both.id)).tags, [gold], 'no tag twice on a record');
  assert.deepEqual((await getRec(t, 'leads', lead.id)).tags, [gold]);
  assert.deepEqual((await getRec(t, 'tasks', task.id)).tags.sort(), ['紧急', gold].sort());
  assert.deepEqual((await getRec(t, 'customers', other.id)).tags, [`${vip}2`], 'a similar name is not touched');
  const listed = expectStatus(await call(t, 'GET', `/api/v1/customers?filter[tags]=${encodeURIComponent(gold)}`), 200).data.map((x) => x.id).sort();
  assert.deepEqual(listed, [c1.id, both.id].sort());
  assert.deepEqual(expectStatus(await call(t, 'GET', `/api/v1/customers?filter[tags]=${encodeURIComponent(vip)}`), 200).data, []);
  const recolored = expectStatus(await call(t, 'PATCH', `/api/v1/tags/${tag.id}`, { body: { color: '#123abc' } }), 200);
  assert.deepEqual(recolored, { id: tag.id, name: gold, color: '#123abc' });
  const nocolor = expectStatus(await call(t, 'PATCH', `/api/v1/tags/${tag.id}`, { body: { color: null } }), 200);
  assert.equal(nocolor.color, null);
});

test('DELETE /tags removes the tag from every record (204); the tag is gone', async () => {
  const t = a.access_token;
  const name = `待清理 ${unique()}`;
  const tag = expectStatus(await call(t, 'POST', '/api/v1/tags', { body: { name } }), 201);
  const c1 = await customer(t, { tags: [name, '保留'] });
  const opp = await createRecord(t, 'opportunities', { name: '商机', customer_id: c1.id, tags: [name] });
  const act = await createRecord(t, 'activities', { kind: 'call', subject: '电话', tags: [name] });
  const res = await call(t, 'DELETE', `/api/v1/tags/${tag.id}`);
  assert.equal(res.status, 204, res.text);
  assert.deepEqual((await getRec(t, 'customers', c1.id)).tags, ['保留']);
  assert.deepEqual((await getRec(t, 'opportunities', opp.id)).tags, []);
  assert.deepEqual((await getRec(t, 'activities', act.id)).tags, []);
  assert.ok(!(await tags(t)).some((x) => x.id === tag.id), 'the tag is gone');
  assertError(await call(t, 'DELETE', `/api/v1/tags/${tag.id}`), 404, 'not_found');
  assertError(await call(t, 'PATCH', `/api/v1/tags/${tag.id}`, { body: { name: 'x' } }), 404, 'not_found');
});

test('tags: a name already taken answers 422 name taken on POST and on a rename; nothing changes', async () => {
  const t = a.access_token;
  const n = unique();
  const one = expectStatus(await call(t, 'POST', '/api/v1/tags', { body: { name: `甲 ${n}` } }), 201);
  const two = expectStatus(await call(t, 'POST', '/api/v1/tags', { body: { name: `乙 ${n}` } }), 201);
  const before = await tags(t);
  assertError(await call(t, 'POST', '/api/v1/tags', { body: { name: `甲 ${n}` } }), 422, 'validation_failed', { name: 'taken' });
  assertError(await call(t, 'POST', '/api/v1/tags', { body: { name: ` 甲 ${n} ` } }), 422, 'validation_failed', { name: 'taken' });
  const c1 = await customer(t, { tags: [`乙 ${n}`] });
  assertError(await call(t, 'PATCH', `/api/v1/tags/${two.id}`, { body: { name: `甲 ${n}` } }), 422, 'validation_failed', { name: 'taken' });
  assert.deepEqual(await tags(t), before);
  assert.deepEqual((await getRec(t, 'customers', c1.id)).tags, [`乙 ${n}`]);
  // renaming to its own name is fine
  assert.deepEqual(expectStatus(await call(t, 'PATCH', `/api/v1/tags/${one.id}`, { body: { name: `甲 ${n}` } }), 200), one);
});

const BAD_TAGS = [
  ['no name', { color: '#ffffff' }, { name: 'required' }],
  ['an empty name', { name: '   ' }, { name: 'invalid_value' }],
  ['a name of 51 characters', { name: '签'.repeat(51) }, { name: 'invalid_value' }],
  ['a numeric name', { name: 12 }, { name: 'invalid_value' }],
  ['a color name', { name: 'c1', color: 'red' }, { color: 'invalid_value' }],
  ['a short hex color', { name: 'c2', color: '#fff' }, { color: 'invalid_value' }],
  ['a color without #', { name: 'c3', color: 'ff0000' }, { color: 'invalid_value' }],
  ['a color with non-hex digits', { name: 'c4', color: '#GG0000' }, { color: 'invalid_value' }],
  ['a numeric color', { name: 'c5', color: 16711680 }, { color: 'invalid_value' }],
  ['an unknown property', { name: 'c6', weight: 3 }, { weight: 'unknown_field' }],
];

for (const [what, body, expected] of BAD_TAGS) {
  test(`POST /tags: ${what} → 422 naming it; nothing is created`, async () => {
    const before = await tags(a.access_token);
    assertError(await call(a.access_token, 'POST', '/api/v1/tags', { body }), 422, 'validation_failed', expected);
    assert.deepEqual(await tags(a.access_token), before);
  });
}

test('PATCH /tags: a bad color or name answers 422 and the tag stays', async () => {
  const tag = expectStatus(await call(a.access_token, 'POST', '/api/v1/tags', { body: { name: `坏色 ${unique()}`, color: '#000000' } }), 201);
  assertError(await call(a.access_token, 'PATCH', `/api/v1/tags/${tag.id}`, { body: { color: 'blue' } }), 422, 'validation_failed', { color: 'invalid_value' });
  assertError(await call(a.access_token, 'PATCH', `/api/v1/tags/${tag.id}`, { body: { name: '' } }), 422, 'validation_failed', { name: 'invalid_value' });
  assert.deepEqual((await tags(a.access_token)).find((x) => x.id === tag.id), tag);
});

testBadBodies('POST /tags', { path: '/api/v1/tags', token: () => a.access_token, body: { name: `bb-${unique()}` } });
testBadBodies('PATCH /tags/1', { method: 'PATCH', path: '/api/v1/tags/1', token: () => a.access_token, body: { color: '#abcdef' } });

test('isolation: B cannot rename or delete A\'s tag (404); A renaming a tag leaves B\'s records with that name alone', async () => {
  const name = `vip-${unique()}`;
  const bTag = expectStatus(await call(b.access_token, 'POST', '/api/v1/tags', { body: { name } }), 201);
  const bRec = await customer(b.access_token, { tags: [name] });
  let aTag;
  do {
    aTag = expectStatus(await call(a.access_token, 'POST', '/api/v1/tags', { body: { name: `${name}-${unique()}` } }), 201);
  } while (aTag.id <= bTag.id);
  assertError(await call(b.access_token, 'PATCH', `/api/v1/tags/${aTag.id}`, { body: { name: '乙改' } }), 404, 'not_found');
  assertError(await call(b.access_token, 'DELETE', `/api/v1/tags/${aTag.id}`), 404, 'not_found');
  assert.ok((await tags(a.access_token)).some((x) => x.id === aTag.id && x.name === aTag.name));
  assert.ok(!(await tags(b.access_token)).some((x) => x.name === aTag.name), 'B does not list A\'s tag');
  // A has a tag of the same name as B's, renames then deletes it: B's record keeps it
  const same = expectStatus(await call(a.access_token, 'POST', '/api/v1/tags', { body: { name } }), 201);
  await customer(a.access_token, { tags: [name] });
  expectStatus(await call(a.access_token, 'PATCH', `/api/v1/tags/${same.id}`, { body: { name: `${name}-renamed` } }), 200);
  expectStatus(await call(a.access_token, 'DELETE', `/api/v1/tags/${same.id}`), 204);
  assert.deepEqual((await getRec(b.access_token, 'customers', bRec.id)).tags, [name]);
  assert.deepEqual((await tags(b.access_token)).find((x) => x.id === bTag.id), bTag);
});
