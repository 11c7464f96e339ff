// Object rights and field security. A matrix: each default role (owner,
// admin, manager, sales, service, read-only) × each record object × each
// action (read = list + get + history, create, update, delete + restore,
// export) is allowed or 403 exactly as tenants/templates/default.json's
// "rights" say. Then field security set through PATCH /api/v1/roles/{key}:
// a hidden field is absent from get, list, history, timeline, export, search
// and the field catalog and cannot be filtered or sorted on (400); writing a
// hidden or read-only field is 403 field_forbidden naming it.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  addMember, api, assertError, BASE_URL, createRecord, expectStatus, listMembers, me, signup, unique,
} from './lib.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TEMPLATE = JSON.parse(readFileSync(path.join(REPO, 'tenants', 'templates', 'default.json'), 'utf8'));
const OBJECTS = ['customers', 'contacts', 'leads', 'opportunities', 'activities', 'tasks'];
const ACTIONS = ['read', 'create', 'update', 'delete', 'export'];
const ROLES = ['owner', 'admin', 'manager', 'sales', 'service', 'read-only'];

// The template's rights of a role as a set of "<object>.<action>".
function rightsOf(roleKey) {
  const role = TEMPLATE.roles.find((r) => r.key === roleKey);
  assert.ok(role, `the template has role ${roleKey}`);
  const out = new Set();
  for (const [k, actions] of Object.entries(role.rights || {})) {
    for (const o of k === '*' ? OBJECTS : [k]) for (const act of actions) out.add(`${o}.${act}`);
  }
  return out;
}

const call = (token, method, p, opts = {}) => api(method, p, { token, ...opts });
const ownerCol = (object) => (object === 'tasks' ? 'assignee_id' : 'owner_id');
const createBody = (object, ctx = {}) => ({
  customers: { name: `权限客户 ${unique()}`, force: true },
  contacts: { name: `权限联系人 ${unique()}` },
  leads: { name: `权限线索 ${unique()}` },
  opportunities: { name: `权限商机 ${unique()}`, customer_id: ctx.customerId },
  activities: { kind: 'call', subject: `权限活动 ${unique()}` },
  tasks: { subject: `权限任务 ${unique()}` },
}[object]);
const updateBody = {
  customers: { region: '华北' },
  contacts: { title: '经理' },
  leads: { channel: '电话' },
  opportunities: { lost_reason: '无' },
  activities: { body: '更新' },
  tasks: { body: '更新' },
};

let owner; // the tenant's owner (token answer)
const actors = {}; // role → {token, memberId}
const records = {}; // role → object → a record owned by that role's member (created by the owner)

before(async () => {
  owner = await signup();
  const [ownerMember] = await listMembers(owner.access_token);
  actors.owner = { token: owner.access_token, memberId: ownerMember.id };
  const others = await Promise.all(ROLES.filter((r) => r !== 'owner').map((role) => addMember(owner.access_token, { role, name: `成员 ${role}` })));
  ROLES.filter((r) => r !== 'owner').forEach((role, i) => {
    actors[role] = { token: others[i].access_token, memberId: others[i].member.id };
  });
  await Promise.all(ROLES.map(async (role) => {
    const mid = actors[role].memberId;
    const rec = {};
    rec.customers = await createRecord(owner.access_token, 'customers', { ...createBody('customers'), owner_id: mid });
    const ctx = { customerId: rec.customers.id };
    for (const object of OBJECTS.slice(1)) {
      rec[object] = await createRecord(owner.access_token, object, { ...createBody(object, ctx), [ownerCol(object)]: mid });
    }
    records[role] = rec;
  }));
});

test('each default role holds exactly the object rights of tenants/templates/default.json (GET /roles and /me)', async () => {
  const { data } = expectStatus(await call(owner.access_token, 'GET', '/api/v1/roles'), 200);
  for (const role of ROLES) {
    const r = data.find((x) => x.key === role);
    assert.ok(r, `role ${role} is listed`);
    const objectRights = r.permissions.filter((p) => OBJECTS.includes(p.split('.')[0]));
    assert.deepEqual(objectRights.sort(), [...rightsOf(role)].sort(), `${role}: object rights`);
    const tpl = TEMPLATE.roles.find((x) => x.key === role);
    assert.equal(r.record_scope, tpl.record_scope, `${role}: scope`);
    for (const p of tpl.permissions) assert.ok(r.permissions.includes(p), `${role} holds ${p}`);
    const mine = expectStatus(await me(actors[role].token), 200);
    assert.equal(mine.role.key, role);
    assert.deepEqual([...mine.permissions].sort(), [...r.permissions].sort(), `${role}: /me lists the role's permissions`);
  }
});

for (const role of ROLES) {
  for (const object of OBJECTS) {
    const rights = rightsOf(role);
    const may = (action) => rights.has(`${object}.${action}`);
    const label = ACTIONS.map((act) => `${act}:${may(act) ? 'yes' : 'no'}`).join(' ');
    test(`matrix ${role} × ${object}: ${label}`, async () => {
      const { token } = actors[role];
      const rec = records[role][object];
      const base = `/api/v1/${object}`;
      const expectAllowed = (res, ok, what) => {
        if (may(what.split(' ')[0])) assert.equal(res.status, ok, `${role} ${what} ${object}: expected ${ok}, got ${res.status} ${res.text.slice(0, 200)}`);
        else assertError(res, 403, 'forbidden');
      };

      // read: list, get, history
      const listed = await call(token, 'GET', `${base}?limit=200`);
      expectAllowed(listed, 200, 'read list');
      if (may('read')) assert.ok(listed.json.data.some((r) => r.id === rec.id), `${role} lists its own ${object}`);
      expectAllowed(await call(token, 'GET', `${base}/${rec.id}`), 200, 'read get');
      expectAllowed(await call(token, 'GET', `${base}/${rec.id}/history`), 200, 'read history');

      // create
      const ctx = { customerId: records[role].customers.id };
      const created = await call(token, 'POST', base, { body: createBody(object, ctx) });
      expectAllowed(created, 201, 'create');

      // update
      const upd = await call(token, 'PATCH', `${base}/${rec.id}`, { body: updateBody[object], headers: { 'if-match': String(rec.version) } });
      expectAllowed(upd, 200, 'update');
      const now = expectStatus(await call(owner.access_token, 'GET', `${base}/${rec.id}`), 200);
      assert.equal(now.version, rec.version + (may('update') ? 1 : 0), 'a refused PATCH changes nothing');

      // export
      const exp = await call(token, 'GET', `${base}/export`);
      expectAllowed(exp, 200, 'export');
      if (may('export')) {
        assert.match(exp.headers.get('content-type') || '', /^text\/csv/);
        assert.ok(exp.text.includes(`\n${rec.id},`) || exp.text.includes(`\r\n${rec.id},`), `${role} exports its own ${object}`);
      }

      // delete and restore
      const gone = await call(token, 'DELETE', `${base}/${rec.id}`);
      expectAllowed(gone, 204, 'delete');
      const after = await call(owner.access_token, 'GET', `${base}/${rec.id}`);
      assert.equal(after.status, may('delete') ? 404 : 200, 'a refused DELETE leaves the record live');
      if (may('delete')) {
        expectAllowed(await call(token, 'POST', `${base}/${rec.id}/restore`), 200, 'delete (restore)');
        expectStatus(await call(owner.access_token, 'GET', `${base}/${rec.id}`), 200);
      } else {
        expectStatus(await call(owner.access_token, 'DELETE', `${base}/${rec.id}`), 204);
        assertError(await call(token, 'POST', `${base}/${rec.id}/restore`), 403, 'forbidden');
        expectStatus(await call(owner.access_token, 'POST', `${base}/${rec.id}/restore`), 200);
      }
    });
  }
}

test('a role without a right gets 403 before anything about the record is told: unknown ids are 403 too, not 404', async () => {
  const { token } = actors['read-only'];
  assertError(await call(token, 'PATCH', '/api/v1/customers/99999999', { body: { region: 'x' }, headers: { 'if-match': '1' } }), 403, 'forbidden');
  assertError(await call(token, 'DELETE', '/api/v1/customers/99999999'), 403, 'forbidden');
  assertError(await call(actors.service.token, 'POST', '/api/v1/customers', { body: { bogus: 1 } }), 403, 'forbidden');
});

/* ---------------------------------------------------------------- field security */

let fs; // {owner, sales, manager, cust, phone, name}

test('field security: PATCH /roles/sales hides customers.phone and a custom field, makes customers.level and another read-only', async () => {
  const o = await signup();
  const t = o.access_token;
  expectStatus(await call(t, 'POST', '/api/v1/fields/customers', { body: { key: 'secret_note', label: '机密备注', type: 'text' } }), 201);
  expectStatus(await call(t, 'POST', '/api/v1/fields/customers', { body: { key: 'credit', label: '信用额度', type: 'number' } }), 201);
  const sales = await addMember(t, { role: 'sales', name: '受限销售' });
  const manager = await addMember(t, { role: 'manager', name: '经理' });
  const salesRole = (await call(t, 'GET', '/api/v1/roles')).json.data.find((r) => r.key === 'sales');
  const res = await call(t, 'PATCH', '/api/v1/roles/sales', {
    body: {
      permissions: [...salesRole.permissions, 'customers.export'],
      fields: { 'customers.phone': 'hidden', 'customers.level': 'read_only', 'customers.secret_note': 'hidden', 'customers.credit': 'read_only' },
    },
  });
  const role = expectStatus(res, 200);
  assert.deepEqual(role.fields, { 'customers.phone': 'hidden', 'customers.level': 'read_only', 'customers.secret_note': 'hidden', 'customers.credit': 'read_only' });
  const n = unique();
  const phone = `1381111${String(Math.floor(Math.random() * 1e4)).padStart(4, '0')}`;
  const name = `字段安全客户 ${n}`;
  const cust = await createRecord(t, 'customers', {
    name, phone, level: 'A', region: '华南', owner_id: sales.member.id, custom: { secret_note: `机密-${n}`, credit: 50000 },
  });
  // changes of the hidden fields land in the history
  const v2 = expectStatus(await call(t, 'PATCH', `/api/v1/customers/${cust.id}`, {
    body: { phone: `${phone.slice(0, -1)}${(Number(phone.at(-1)) + 1) % 10}`, custom: { secret_note: `更机密-${n}` }, region: '华东' }, headers: { 'if-match': '1' },
  }), 200);
  await createRecord(t, 'activities', { kind: 'call', subject: `字段安全通话 ${n}`, customer_id: cust.id, owner_id: sales.member.id });
  fs = { owner: o, sales, manager, cust: v2, phone: v2.phone, oldPhone: phone, name, n };
  const seen = expectStatus(await call(t, 'GET', `/api/v1/customers/${cust.id}`), 200);
  assert.equal(seen.phone, v2.phone, 'the owner still sees the phone');
  assert.equal(seen.custom.secret_note, `更机密-${n}`);
});

// Asserts that no hidden value (phone digits, the secret note) appears in a text.
function assertNoHidden(text, what) {
  assert.ok(fs, 'the field security setup ran');
  for (const v of [fs.phone, fs.oldPhone, `机密-${fs.n}`, `更机密-${fs.n}`]) {
    assert.ok(!text.includes(v), `${what} shows the hidden value ${v}: ${text.slice(0, 300)}`);
  }
}

test('field security: a hidden field is absent from get (and its summary), list and PATCH answers; read-only fields are shown', async () => {
  const t = fs.sales.access_token;
  const got = expectStatus(await call(t, 'GET', `/api/v1/customers/${fs.cust.id}`), 200);
  assert.ok(!('phone' in got), 'phone absent');
  assert.ok(!('secret_note' in got.custom), 'the hidden custom field is absent');
  assert.equal(got.level, 'A', 'a read-only field is shown');
  assert.equal(got.custom.credit, 50000);
  assertNoHidden(JSON.stringify(got), 'GET');
  const listed = expectStatus(await call(t, 'GET', '/api/v1/customers?limit=200'), 200).data;
  assert.ok(listed.some((r) => r.id === fs.cust.id));
  for (const r of listed) assert.ok(!('phone' in r) && !('secret_note' in r.custom));
  assertNoHidden(JSON.stringify(listed), 'the list');
  const patched = expectStatus(await call(t, 'PATCH', `/api/v1/customers/${fs.cust.id}`, { body: { region: '西南' }, headers: { 'if-match': String(got.version) } }), 200);
  assert.ok(!('phone' in patched));
  assertNoHidden(JSON.stringify(patched), 'the PATCH answer');
  fs.cust = { ...fs.cust, version: patched.version };
  // the field catalog: hidden left out, read-only flagged
  const { data, layout } = expectStatus(await call(t, 'GET', '/api/v1/fields/customers'), 200);
  assert.ok(!data.some((f) => f.key === 'phone' || f.key === 'secret_note'));
  assert.ok(!layout.some((s) => s.fields.includes('phone') || s.fields.includes('secret_note')));
  assert.equal(data.find((f) => f.key === 'level').read_only, true);
  assert.equal(data.find((f) => f.key === 'credit').read_only, true);
  assert.equal(data.find((f) => f.key === 'region').read_only, false);
  // another role is unaffected
  const mgr = expectStatus(await call(fs.manager.access_token, 'GET', '/api/v1/fields/customers'), 200).data;
  assert.ok(mgr.some((f) => f.key === 'phone'));
});

test('field security: a hidden field is absent from history and timeline (changes and the create entry)', async () => {
  const t = fs.sales.access_token;
  const hist = expectStatus(await call(t, 'GET', `/api/v1/customers/${fs.cust.id}/history?limit=200`), 200).data;
  assert.ok(hist.length >= 3, 'create, region changes');
  assert.ok(!hist.some((e) => e.field === 'phone' || e.field === 'secret_note'), 'no change entry of a hidden field');
  assert.ok(hist.some((e) => e.field === 'region'), 'other changes are listed');
  assertNoHidden(JSON.stringify(hist), 'the history');
  const ownerHist = expectStatus(await call(fs.owner.access_token, 'GET', `/api/v1/customers/${fs.cust.id}/history?limit=200`), 200).data;
  assert.ok(ownerHist.some((e) => e.field === 'phone'), 'the owner sees the phone change');
  const tl = expectStatus(await call(t, 'GET', `/api/v1/customers/${fs.cust.id}/timeline?limit=200`), 200).data;
  assert.ok(tl.some((x) => x.type === 'activity'));
  assert.ok(tl.some((x) => x.type === 'change' && x.record.field === 'region'));
  assert.ok(!tl.some((x) => x.type === 'change' && ['phone', 'secret_note'].includes(x.record.field)));
  assertNoHidden(JSON.stringify(tl), 'the timeline');
});

test('field security: a hidden field is absent from the export (column and values); a read-only one is exported', async () => {
  const res = await fetch(`${BASE_URL}/api/v1/customers/export`, { headers: { authorization: `Bearer ${fs.sales.access_token}` } });
  const text = await res.text();
  assert.equal(res.status, 200, text.slice(0, 200));
  const header = text.split(/\r?\n/)[0].replace(/^\ufeff/, '').split(',');
  assert.ok(!header.includes('电话') && !header.includes('机密备注'), `no hidden column: ${header}`);
  assert.ok(header.includes('客户级别') && header.includes('信用额度'), 'read-only columns are exported');
  assert.ok(text.includes(fs.name));
  assertNoHidden(text, 'the export');
});

test('field security: search and duplicates answer no hidden value; the search does not match on a hidden field', async () => {
  const t = fs.sales.access_token;
  const byName = expectStatus(await call(t, 'GET', `/api/v1/search?q=${encodeURIComponent(fs.name)}`), 200).data;
  assert.deepEqual(byName.map((x) => x.id), [fs.cust.id]);
  assertNoHidden(JSON.stringify(byName), 'search results');
  const dups = expectStatus(await call(t, 'GET', `/api/v1/customers/duplicates?name=${encodeURIComponent(fs.name)}`), 200).data;
  assert.deepEqual(dups.map((x) => x.id), [fs.cust.id]);
  assert.ok(!('phone' in dups[0]));
  assertNoHidden(JSON.stringify(dups), 'duplicates');
  // matching on the hidden phone would tell the caller the phone
  const byPhone = expectStatus(await call(t, 'GET', `/api/v1/search?q=${fs.phone.slice(-8)}`), 200).data;
  assert.deepEqual(byPhone, [], 'search does not match a hidden field\'s value');
  const ownerByPhone = expectStatus(await call(fs.owner.access_token, 'GET', `/api/v1/search?q=${fs.phone.slice(-8)}`), 200).data;
  assert.deepEqual(ownerByPhone.map((x) => x.id), [fs.cust.id], 'the owner finds it by phone');
});

test('field security: the duplicates lookup does not match on a hidden phone', async () => {
  const dups = expectStatus(await call(fs.sales.access_token, 'GET', `/api/v1/customers/duplicates?phone=${fs.phone}`), 200).data;
  assert.deepEqual(dups, [], 'a lookup by the hidden phone would confirm it');
});

test('field security: a hidden or read-only field cannot be filtered or sorted on (400 naming the parameter)', async () => {
  const t = fs.sales.access_token;
  const q = (qs) => call(t, 'GET', `/api/v1/customers?${qs}`);
  assertError(await q(`filter[phone]=${fs.phone}`), 400, 'bad_request', { 'filter[phone]': 'unknown_field' });
  assertError(await q('filter[phone][contains]=138'), 400, 'bad_request', { 'filter[phone]': 'unknown_field' });
  assertError(await q('filter[phone][empty]=false'), 400, 'bad_request', { 'filter[phone]': 'unknown_field' });
  assertError(await q('sort=phone'), 400, 'bad_request', { sort: 'unknown_field' });
  assertError(await q('sort=-phone'), 400, 'bad_request', { sort: 'unknown_field' });
  assertError(await q('filter[custom.secret_note]=x'), 400, 'bad_request', { 'filter[custom.secret_note]': 'unknown_field' });
  assertError(await q('sort=custom.secret_note'), 400, 'bad_request', { sort: 'unknown_field' });
  assertError(await call(t, 'GET', `/api/v1/customers/export?filter[phone]=${fs.phone}`), 400, 'bad_request', { 'filter[phone]': 'unknown_field' });
  // a read-only field may be filtered and sorted on
  const byLevel = expectStatus(await q('filter[level]=A&sort=level'), 200).data;
  assert.ok(byLevel.some((r) => r.id === fs.cust.id));
  expectStatus(await q('filter[custom.credit][gte]=1&sort=-custom.credit'), 200);
  // the owner may filter on phone
  const own = expectStatus(await call(fs.owner.access_token, 'GET', `/api/v1/customers?filter[phone]=${fs.phone}`), 200).data;
  assert.deepEqual(own.map((r) => r.id), [fs.cust.id]);
});

test('field security: writing a hidden or read-only field answers 403 field_forbidden naming each; nothing changes', async () => {
  const t = fs.sales.access_token;
  const path_ = `/api/v1/customers/${fs.cust.id}`;
  const before = expectStatus(await call(fs.owner.access_token, 'GET', path_), 200);
  const patch = (body) => call(t, 'PATCH', path_, { body, headers: { 'if-match': String(before.version) } });
  assertError(await patch({ level: 'B' }), 403, 'field_forbidden', { level: 'read_only' });
  assertError(await patch({ phone: '13900000000' }), 403, 'field_forbidden', { phone: 'hidden' });
  assertError(await patch({ phone: null }), 403, 'field_forbidden', { phone: 'hidden' });
  assertError(await patch({ custom: { secret_note: '偷看' } }), 403, 'field_forbidden', { secret_note: 'hidden' });
  assertError(await patch({ custom: { credit: 1 } }), 403, 'field_forbidden', { credit: 'read_only' });
  const both = await patch({ level: 'C', phone: '13900000001', region: '东北' });
  assertError(both, 403, 'field_forbidden', { level: 'read_only', phone: 'hidden' });
  assert.ok(!('region' in both.json.error.fields), 'only the forbidden fields are named');
  assertError(await call(t, 'POST', '/api/v1/customers', { body: { name: `新建 ${unique()}`, phone: '13900000002' } }), 403, 'field_forbidden', { phone: 'hidden' });
  assertError(await call(t, 'POST', '/api/v1/customers', { body: { name: `新建 ${unique()}`, level: 'A', custom: { credit: 5 } } }), 403, 'field_forbidden', { level: 'read_only', credit: 'read_only' });
  const after = expectStatus(await call(fs.owner.access_token, 'GET', path_), 200);
  assert.deepEqual(after, before, 'nothing changed');
  // a write without those fields goes through
  const ok = expectStatus(await patch({ region: '东北' }), 200);
  assert.equal(ok.region, '东北');
  const made = expectStatus(await call(t, 'POST', '/api/v1/customers', { body: { name: `允许新建 ${unique()}` } }), 201);
  assert.ok(!('phone' in made));
  // an import row with a hidden column fails on its own with field_forbidden
  const imp = await api('POST', '/api/v1/imports?object=customers', {
    token: t, raw: `客户名称,电话\n导入受限 ${unique()},13900000003\n`, headers: { 'content-type': 'text/csv' },
  });
  const rep = expectStatus(imp, 201);
  assert.equal(rep.created, 0);
  assert.deepEqual(rep.errors.map((e) => [e.code, e.fields]), [['field_forbidden', { phone: 'hidden' }]]);
});

test('field security: lifting the rules (fields {}) shows and frees the fields again at once', async () => {
  const t = fs.owner.access_token;
  expectStatus(await call(t, 'PATCH', '/api/v1/roles/sales', { body: { fields: {} } }), 200);
  const got = expectStatus(await call(fs.sales.access_token, 'GET', `/api/v1/customers/${fs.cust.id}`), 200);
  assert.equal(got.phone, fs.phone);
  assert.equal(got.custom.secret_note, `更机密-${fs.n}`);
  expectStatus(await call(fs.sales.access_token, 'PATCH', `/api/v1/customers/${fs.cust.id}`, { body: { level: 'B' }, headers: { 'if-match': String(got.version) } }), 200);
});
