// Record lists: keyset paging (limit, cursor) through several pages under
// several sorts (nullable core and custom fields, ties), filters with every
// operator, tags and custom fields, `q` search (Chinese substrings, phone and
// e-mail fragments) and the answers to bad list parameters.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  addCustomField, addMember, api, assertError, createRecord, expectStatus, setFieldAccess, signup, sql, unique,
} from './lib.mjs';

let owner;
let sales; // a sales member for whom customers.level and custom.secret are hidden
let customers = []; // every live customer of the tenant, as created
let opportunities = [];
let huawei;
let zte;
const N = 25; // customers of the paging set

const call = (method, path, token = owner.access_token) => api(method, path, { token });

// GET /api/v1/<object>?<params> (params: an object or [key, value] pairs).
async function list(object, params = {}, token = owner.access_token) {
  const qs = new URLSearchParams(Array.isArray(params) ? params : Object.entries(params));
  return api('GET', `/api/v1/${object}?${qs}`, { token });
}

async function listOk(object, params = {}, token) {
  return expectStatus(await list(object, params, token), 200);
}

// Every page of a list query; asserts page sizes and a bounded number of pages.
async function pageThrough(object, params, limit) {
  const rows = [];
  let cursor = null;
  let pages = 0;
  for (;;) {
    const json = await listOk(object, { ...params, limit: String(limit), ...(cursor ? { cursor } : {}) });
    pages += 1;
    assert.ok(json.data.length <= limit, 'a page holds at most limit records');
    if (json.next_cursor !== null) {
      assert.equal(typeof json.next_cursor, 'string');
      assert.equal(json.data.length, limit, 'a page before the last is full');
    }
    rows.push(...json.data);
    cursor = json.next_cursor;
    if (cursor === null) break;
    assert.ok(pages < 60, 'paging ends');
  }
  return { rows, pages };
}

// Microsecond timestamps compare as strings once the fraction has 6 digits.
const tsKey = (s) => s.replace(/:(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/, (m, sec, f = '', z) => `:${sec}.${f.padEnd(6, '0')}${z}`);

// The order the API promises: by the sort field (nulls last in both directions), then by id.
function sorted(rows, sort, kind) {
  const desc = sort.startsWith('-');
  const key = sort.replace(/^-/, '');
  const val = (r) => {
    const v = key.startsWith('custom.') ? r.custom[key.slice(7)] : r[key];
    if (v === null || v === undefined) return null;
    if (kind === 'number') return Number(v);
    if (kind === 'time') return tsKey(v);
    return v;
  };
  return [...rows].sort((a, b) => {
    const va = val(a);
    const vb = val(b);
    if (va === null || vb === null) {
      if (va !== vb) return va === null ? 1 : -1;
    } else if (va !== vb) {
      return (va < vb ? -1 : 1) * (desc ? -1 : 1);
    }
    return (a.id - b.id) * (desc ? -1 : 1);
  });
}

const ids = (rows) => rows.map((r) => r.id);
const idSet = (rows) => ids(rows).sort((x, y) => x - y);

function assertNoRepeats(rows) {
  const seen = new Set(ids(rows));
  assert.equal(seen.size, rows.length, `no record appears twice: ${ids(rows)}`);
}

before(async () => {
  owner = await signup();
  const tid = owner.tenant.id;
  await addCustomField(tid, 'customers', [
    { key: 'rank', type: 'number', label: '排名' },
    { key: 'region_code', type: 'text', label: '区域代码' },
    { key: 'since', type: 'date', label: '合作起始' },
    { key: 'channels', type: 'multiselect', label: '渠道', options: ['online', 'offline', 'partner'] },
    { key: 'active', type: 'bool', label: '活跃' },
    { key: 'secret', type: 'text', label: '机密' },
  ]);
  await setFieldAccess(tid, 'sales', 'customers', { level: 'hidden', secret: 'hidden' });
  sales = await addMember(owner.access_token, { role: 'sales', name: '列表销售' });

  // Sequential creates: distinct created_at/updated_at in id order.
  for (let i = 0; i < N; i++) {
    const custom = { region_code: `R${i % 3}`, secret: `s${i}` };
    if (i % 4 !== 0) custom.rank = i % 5;
    if (i % 6 !== 0) custom.since = `2024-0${(i % 9) + 1}-15`;
    if (i % 7 !== 0) custom.channels = i % 2 ? ['online'] : ['offline', 'partner'];
    if (i % 5 !== 2) custom.active = i % 2 === 0;
    customers.push(await createRecord(owner.access_token, 'customers', {
      name: `列表客户 ${String(i).padStart(2, '0')}`,
      level: ['A', 'B', null, 'A', 'C'][i % 5],
      email: i % 2 === 0 ? `c${i}@list.example.com` : null,
      tags: [['vip'], ['vip', 'key'], []][i % 3],
      custom,
    }));
  }
  huawei = await createRecord(owner.access_token, 'customers', {
    name: '华为技术有限公司', phone: '138-0013-8000', email: 'contact@huawei-tech.com', level: 'A',
  });
  zte = await createRecord(owner.access_token, 'customers', {
    name: '中兴通讯股份有限公司', phone: '0755 2677 0000', email: 'Sales@ZTE-Corp.com', level: 'B',
  });
  const quoted = await createRecord(owner.access_token, 'customers', { name: `O'Brien "引号", 逗号 \\ 列表`, level: 'C' });
  customers.push(huawei, zte, quoted);

  for (let i = 0; i < 16; i++) {
    opportunities.push(await createRecord(owner.access_token, 'opportunities', {
      name: `列表商机 ${i}`, customer_id: huawei.id,
      amount: i % 4 === 0 ? null : String((i % 3) * 1000 + 0.5),
      expected_close_date: i % 5 === 0 ? null : `2026-0${(i % 3) + 1}-01`,
    }));
  }
  // ties on a timestamp: every third opportunity created at the same instant
  await sql(`UPDATE t_${tid}.opportunities SET created_at = '2026-01-01T00:00:00Z' WHERE id % 3 = 0`);
  opportunities = (await listOk('opportunities', { limit: '200' })).data;
});

/* ---------- paging ---------- */

const SORTS = [
  [undefined, 'time', '-updated_at'], ['-updated_at', 'time'], ['updated_at', 'time'], ['created_at', 'time'],
  ['name', null], ['-name', null], ['level', 'text'], ['-level', 'text'],
  ['custom.rank', 'number'], ['-custom.rank', 'number'], ['custom.since', 'text'], ['-custom.since', 'text'],
  ['custom.region_code', 'text'], ['id', 'number'], ['-id', 'number'],
];

for (const [sort, kind, as = sort] of SORTS) {
  test(`customers: paging sort=${sort ?? '(default)'} by 6 walks every record once, in order`, async () => {
    const params = sort ? { sort } : {};
    const { rows, pages } = await pageThrough('customers', params, 6);
    assert.ok(pages > 2, `more than two pages (${pages})`);
    assertNoRepeats(rows);
    assert.deepEqual(idSet(rows), idSet(customers), 'no gaps: every live record is listed');
    const whole = (await listOk('customers', { ...params, limit: '200' })).data;
    assert.deepEqual(ids(rows), ids(whole), 'the pages in a row equal the one-page list');
    if (kind) assert.deepEqual(ids(rows), ids(sorted(whole, as, kind)), `ordered by ${as}, nulls last, then id`);
  });
}

for (const [sort, kind] of [['amount', 'number'], ['-amount', 'number'], ['expected_close_date', 'text'], ['-expected_close_date', 'text'],
  ['probability', 'number'], ['-probability', 'number'], ['created_at', 'time'], ['-created_at', 'time']]) {
  test(`opportunities: paging sort=${sort} by 5 (nullable, with ties) walks every record once, in order`, async () => {
    const { rows, pages } = await pageThrough('opportunities', { sort }, 5);
    assert.ok(pages > 2, `more than two pages (${pages})`);
    assertNoRepeats(rows);
    assert.deepEqual(idSet(rows), idSet(opportunities));
    assert.deepEqual(ids(rows), ids(sorted(opportunities, sort, kind)));
  });
}

test('paging works with a filter and q: only matching records, each once', async () => {
  const { rows, pages } = await pageThrough('customers', { 'filter[tags]': 'vip', sort: '-custom.rank' }, 4);
  assert.ok(pages > 2);
  assertNoRepeats(rows);
  assert.deepEqual(idSet(rows), idSet(customers.filter((c) => c.tags.includes('vip'))));
  const searched = await pageThrough('customers', { q: '列表客户', sort: 'name' }, 7);
  assert.ok(searched.pages > 2);
  assertNoRepeats(searched.rows);
  assert.deepEqual(idSet(searched.rows), idSet(customers.slice(0, N)));
});

test('a record changed while paging by -updated_at is not listed twice', async () => {
  const first = await listOk('customers', { limit: '5' });
  const moved = first.data[4]; // already seen: touching it moves it to the front, behind the cursor
  const own = customers.find((c) => c.id === moved.id);
  assert.ok(own, 'a customer of the set');
  const res = await api('PATCH', `/api/v1/customers/${moved.id}`, { token: owner.access_token, body: { region: '华北' }, headers: { 'if-match': String(moved.version) } });
  const patched = expectStatus(res, 200);
  Object.assign(own, patched);
  const rest = [];
  let cursor = first.next_cursor;
  while (cursor) {
    const json = await listOk('customers', { limit: '5', cursor });
    rest.push(...json.data);
    cursor = json.next_cursor;
  }
  assert.ok(!rest.some((r) => r.id === moved.id), 'the moved record is not seen again');
  assert.equal(first.data.length + rest.length, customers.length, 'every other record is still seen once');
  assertNoRepeats([...first.data, ...rest]);
});

/* ---------- filters ---------- */

const FILTERS = [
  ['eq (default)', { 'filter[level]': 'A' }, (c) => c.level === 'A'],
  ['eq', { 'filter[level][eq]': 'A' }, (c) => c.level === 'A'],
  ['ne (null is distinct)', { 'filter[level][ne]': 'A' }, (c) => c.level !== 'A'],
  ['lt on a custom number', { 'filter[custom.rank][lt]': '2' }, (c) => c.custom.rank !== undefined && c.custom.rank < 2],
  ['lte on a custom number', { 'filter[custom.rank][lte]': '2' }, (c) => c.custom.rank !== undefined && c.custom.rank <= 2],
  ['gt on a custom number', { 'filter[custom.rank][gt]': '2' }, (c) => c.custom.rank !== undefined && c.custom.rank > 2],
  ['gte on a custom number', { 'filter[custom.rank][gte]': '2' }, (c) => c.custom.rank !== undefined && c.custom.rank >= 2],
  ['gte on a custom date', { 'filter[custom.since][gte]': '2024-05-15' }, (c) => c.custom.since !== undefined && c.custom.since >= '2024-05-15'],
  ['lt on a core text', { 'filter[level][lt]': 'B' }, (c) => c.level === 'A'],
  ['in on a core text', { 'filter[level][in]': 'A,C' }, (c) => ['A', 'C'].includes(c.level)],
  ['in on a custom number', { 'filter[custom.rank][in]': '1,3' }, (c) => [1, 3].includes(c.custom.rank)],
  ['contains (a substring)', { 'filter[name][contains]': '客户 1' }, (c) => c.name.includes('客户 1')],
  ['contains ignores case', { 'filter[email][contains]': 'LIST.Example' }, (c) => (c.email || '').includes('list.example')],
  ['empty=true', { 'filter[level][empty]': 'true' }, (c) => c.level === null],
  ['empty=false', { 'filter[level][empty]': 'false' }, (c) => c.level !== null],
  ['empty=true on a custom field', { 'filter[custom.rank][empty]': 'true' }, (c) => c.custom.rank === undefined],
  ['eq on a custom text', { 'filter[custom.region_code]': 'R1' }, (c) => c.custom.region_code === 'R1'],
  ['eq on a custom bool', { 'filter[custom.active]': 'true' }, (c) => c.custom.active === true],
  ['eq on a custom multiselect', { 'filter[custom.channels]': 'partner' }, (c) => (c.custom.channels || []).includes('partner')],
  ['empty on a custom multiselect', { 'filter[custom.channels][empty]': 'true' }, (c) => !c.custom.channels],
  ['tags', { 'filter[tags]': 'vip' }, (c) => c.tags.includes('vip')],
  ['tags contains', { 'filter[tags][contains]': 'key' }, (c) => c.tags.includes('key')],
  ['tags ne', { 'filter[tags][ne]': 'vip' }, (c) => !c.tags.includes('vip')],
  ['tags in', { 'filter[tags][in]': 'key,nothing' }, (c) => c.tags.includes('key')],
  ['tags empty', { 'filter[tags][empty]': 'true' }, (c) => c.tags.length === 0],
  ['two filters together', { 'filter[level]': 'A', 'filter[tags]': 'vip' }, (c) => c.level === 'A' && c.tags.includes('vip')],
  ['id gt', () => ({ 'filter[id][gt]': String(customers[10].id) }), (c) => c.id > customers[10].id],
  ['created_at gte', () => ({ 'filter[created_at][gte]': customers[20].created_at }), (c) => tsKey(c.created_at) >= tsKey(customers[20].created_at)],
];

for (const [what, params, keep] of FILTERS) {
  test(`filter ${what}: exactly the matching records`, async () => {
    const p = typeof params === 'function' ? params() : params;
    const expected = customers.filter(keep);
    assert.ok(expected.length > 0 && expected.length < customers.length, 'the filter splits the data');
    const json = await listOk('customers', { ...p, limit: '200' });
    assert.deepEqual(idSet(json.data), idSet(expected));
  });
}

test('filters on opportunities: money gte, date lt, in and empty', async () => {
  const cases = [
    [{ 'filter[amount][gte]': '1000.5' }, (o) => o.amount !== null && Number(o.amount) >= 1000.5],
    [{ 'filter[amount][empty]': 'true' }, (o) => o.amount === null],
    [{ 'filter[expected_close_date][lt]': '2026-02-01' }, (o) => o.expected_close_date !== null && o.expected_close_date < '2026-02-01'],
    [{ 'filter[amount][in]': '0.50,2000.50' }, (o) => ['0.50', '2000.50'].includes(o.amount)],
  ];
  for (const [p, keep] of cases) {
    const expected = opportunities.filter(keep);
    assert.ok(expected.length > 0 && expected.length < opportunities.length, JSON.stringify(p));
    assert.deepEqual(idSet((await listOk('opportunities', { ...p, limit: '200' })).data), idSet(expected), JSON.stringify(p));
  }
});

test('an unknown filter field answers 400 naming filter[field]', async () => {
  for (const field of ['nope', 'custom.nope', '_search', 'summary']) {
    assertError(await list('customers', { [`filter[${field}]`]: 'x' }), 400, 'bad_request', { [`filter[${field}]`]: 'unknown_field' });
  }
});

test('a hidden field cannot be filtered or sorted (400), core or custom; the owner can', async () => {
  const t = sales.access_token;
  assertError(await list('customers', { 'filter[level]': 'A' }, t), 400, 'bad_request', { 'filter[level]': 'unknown_field' });
  assertError(await list('customers', { 'filter[level][empty]': 'true' }, t), 400, 'bad_request', { 'filter[level]': 'unknown_field' });
  assertError(await list('customers', { 'filter[custom.secret]': 's1' }, t), 400, 'bad_request', { 'filter[custom.secret]': 'unknown_field' });
  assertError(await list('customers', { sort: 'level' }, t), 400, 'bad_request', { sort: 'unknown_field' });
  assertError(await list('customers', { sort: '-custom.secret' }, t), 400, 'bad_request', { sort: 'unknown_field' });
  expectStatus(await list('customers', { 'filter[region]': 'x' }, t), 200);
  await listOk('customers', { 'filter[level]': 'A', sort: 'level' });
  assert.equal((await listOk('customers', { 'filter[custom.secret]': 's1' })).data.length, 1);
});

test('a filter value of the wrong type answers 400 naming filter[field]', async () => {
  const cases = [
    ['filter[custom.rank][gt]', 'abc', 'filter[custom.rank]'],
    ['filter[created_at][gte]', 'next week', 'filter[created_at]'],
    ['filter[custom.since]', '2024-02-30', 'filter[custom.since]'],
    ['filter[level][empty]', 'maybe', 'filter[level]'],
    ['filter[id][in]', '1,x', 'filter[id]'],
    ['filter[owner_id]', 'me', 'filter[owner_id]'],
  ];
  for (const [k, v, name] of cases) {
    const res = await list('customers', { [k]: v });
    assert.equal(res.status, 400, `${k}=${v}: ${res.status} ${res.text.slice(0, 100)}`);
    assertError(res, 400, 'bad_request', { [name]: 'invalid_value' });
  }
});

test('an unknown operator or a malformed filter parameter answers 400', async () => {
  assertError(await list('customers', { 'filter[level][like]': 'A' }), 400, 'bad_request', { 'filter[level]': 'invalid_operator' });
  assertError(await list('customers', { 'filter[tags][gt]': 'a' }), 400, 'bad_request', { 'filter[tags]': 'invalid_operator' });
  for (const key of ['filter[]', 'filter[level', 'filter[level]x', 'filter[level][eq']) {
    assertError(await list('customers', { [key]: 'A' }), 400, 'bad_request');
  }
});

test('an unknown or unsortable sort answers 400 naming sort', async () => {
  for (const sort of ['nope', '-nope', 'custom.nope', 'tags', 'custom.channels', '-', '_search']) {
    assertError(await list('customers', { sort }), 400, 'bad_request', { sort: 'unknown_field' });
  }
});

/* ---------- limit and cursor ---------- */

test('limit 0, 201, abc, -1, 1.5 or empty answers 422 naming limit', async () => {
  for (const limit of ['0', '201', 'abc', '-1', '1.5', '', '99999']) {
    assertError(await list('customers', { limit }), 422, 'validation_failed', { limit: 'invalid_value' });
  }
});

test('limit 1 and 200 are accepted; the default is 50', async () => {
  const one = await listOk('customers', { limit: '1' });
  assert.equal(one.data.length, 1);
  assert.equal(typeof one.next_cursor, 'string');
  const all = await listOk('customers', { limit: '200' });
  assert.equal(all.data.length, customers.length);
  assert.equal(all.next_cursor, null);
  const dflt = await listOk('opportunities', {});
  assert.equal(dflt.data.length, opportunities.length);
});

test('a bad cursor answers 400 naming cursor', async () => {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const nameCursor = (await listOk('customers', { sort: 'name', limit: '2' })).next_cursor;
  const bad = ['garbage!!', 'AAAA', b64({ a: 1 }), b64(['-updated_at', null]), b64(['-updated_at', null, 'x']), b64('x'), nameCursor];
  for (const cursor of bad) {
    assertError(await list('customers', { cursor }), 400, 'bad_request', { cursor: 'invalid_value' });
  }
});

test('a forged cursor with a value of the wrong type answers 400, not 500', async () => {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  assertError(await list('customers', { cursor: b64(['-updated_at', 'not a time', 1]) }), 400, 'bad_request');
  assertError(await list('customers', { sort: 'custom.rank', cursor: b64(['custom.rank', 'abc', 1]) }), 400, 'bad_request');
});

/* ---------- q ---------- */

const search = async (q, object = 'customers', token) => ids((await listOk(object, { q, limit: '200' }, token)).data);

test('q finds a Chinese substring of two or more characters inside a name', async () => {
  for (const q of ['华为', '为技', '技术有限', '华为技术有限公司']) assert.deepEqual(await search(q), [huawei.id], q);
  assert.deepEqual(await search('通讯'), [zte.id]);
  assert.deepEqual((await search('有限公司')).sort(), [huawei.id, zte.id].sort());
});

test('q finds a phone by a fragment typed with dashes or spaces', async () => {
  for (const q of ['0013-8000', '138-0013', '13800138000', '138 0013 8000', '(138) 0013']) assert.deepEqual(await search(q), [huawei.id], q);
  assert.deepEqual(await search('2677-0000'), [zte.id]);
});

test('q finds a phone typed with its +86 country code', async () => {
  assert.deepEqual(await search('+86 138-0013-8000'), [huawei.id]);
});

test('q finds an e-mail by a fragment, in any case or width', async () => {
  assert.deepEqual(await search('huawei-tech'), [huawei.id]);
  assert.deepEqual(await search('@zte'), [zte.id]);
  assert.deepEqual(await search('SALES@ZTE-CORP.COM'), [zte.id]);
  assert.deepEqual(await search('ｚｔｅ－ｃｏｒｐ'), [zte.id]);
  const listed = (await search('list.example.com')).sort((x, y) => x - y);
  assert.deepEqual(listed, idSet(customers.filter((c) => c.email?.endsWith('@list.example.com'))));
});

test('q that matches nothing answers an empty page', async () => {
  const json = await listOk('customers', { q: '不存在的公司' });
  assert.deepEqual(json, { data: [], next_cursor: null });
});

test('q searches the other objects too', async () => {
  const t = owner.access_token;
  const contact = await createRecord(t, 'contacts', { name: '欧阳娜娜', mobile: '186-1234-5678', wechat: 'nana_ouyang' });
  const lead = await createRecord(t, 'leads', { name: '陈晨', company: '比亚迪股份有限公司' });
  const opp = await createRecord(t, 'opportunities', { name: '云服务器扩容项目', customer_id: zte.id });
  const act = await createRecord(t, 'activities', { kind: 'note', subject: '季度业务回顾会议' });
  const task = await createRecord(t, 'tasks', { subject: '准备招投标文件' });
  assert.deepEqual(await search('欧阳', 'contacts'), [contact.id]);
  assert.deepEqual(await search('1234-5678', 'contacts'), [contact.id]);
  assert.deepEqual(await search('nana_', 'contacts'), [contact.id]);
  assert.deepEqual(await search('比亚迪', 'leads'), [lead.id]);
  assert.deepEqual(await search('服务器', 'opportunities'), [opp.id]);
  assert.deepEqual(await search('业务回顾', 'activities'), [act.id]);
  assert.deepEqual(await search('招投标', 'tasks'), [task.id]);
});

test('q shorter than two characters answers 400 naming q', async () => {
  for (const q of ['a', '华', ' a ', '-', '  ']) {
    assertError(await list('customers', { q }), 400, 'bad_request', { q: 'too_short' });
  }
});

test('q respects scope: a sales member finds none of the owner\'s customers', async () => {
  assert.deepEqual(await search('华为', 'customers', sales.access_token), []);
  assert.deepEqual((await listOk('customers', { limit: '200' }, sales.access_token)).data, []);
});

test('a deleted record is neither listed nor found by q', async () => {
  const c = await createRecord(owner.access_token, 'customers', { name: `回收站测试 ${unique()}` });
  assert.deepEqual(await search('回收站测试'), [c.id]);
  assert.equal((await call('DELETE', `/api/v1/customers/${c.id}`)).status, 204);
  assert.deepEqual(await search('回收站测试'), []);
  assert.ok(!(await listOk('customers', { limit: '200' })).data.some((r) => r.id === c.id));
  expectStatus(await call('POST', `/api/v1/customers/${c.id}/restore`), 200);
  assert.deepEqual(await search('回收站测试'), [c.id]);
  assert.equal((await call('DELETE', `/api/v1/customers/${c.id}`)).status, 204);
});
