// CSV imports: POST /api/v1/imports as a raw text/csv body or as
// multipart/form-data, UTF-8 (with or without BOM) and GBK, the per-row
// report (row, line, fields) beside the rows that were created, dry runs,
// the duplicate policies, explicit mappings, the refusals (415, 422, 403,
// 413), and a file of more than 500 rows that crm-worker imports as a job
// whose progress GET /api/v1/imports/{id} shows.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  addMember, api, assertError, assertKeys, assertTime, BASE_URL, createRecord, expectStatus, listMembers, MiB, signup, unique, USER_AGENT,
} from './lib.mjs';

let a; // tenant A's owner
let b; // tenant B's owner
let aOwner; // A's owner as a member
let aSales; // a sales member of A
let aService; // a service member of A (contacts.create, no customers.create)
let aReader; // a read-only member of A
let big; // the large import's source tag and the ids it created

const REPORT_KEYS = ['id', 'object', 'status', 'dry_run', 'duplicates', 'mapping', 'filename', 'total_rows', 'processed_rows',
  'created', 'updated', 'skipped', 'failed', 'errors', 'created_by', 'created_at', 'finished_at'];
const GBK = {
  客户名称: [0xbf, 0xcd, 0xbb, 0xa7, 0xc3, 0xfb, 0xb3, 0xc6],
  邮箱: [0xd3, 0xca, 0xcf, 0xe4],
  华为: [0xbb, 0xaa, 0xce, 0xaa],
  中兴: [0xd6, 0xd0, 0xd0, 0xcb],
};

const call = (token, method, path, opts = {}) => api(method, path, { token, ...opts });

// POST /api/v1/imports with the file as the raw body and the parameters in the query string.
function rawImport(token, body, query = {}, type = 'text/csv') {
  const qs = new URLSearchParams(query).toString();
  return api('POST', `/api/v1/imports${qs ? `?${qs}` : ''}`, { token, raw: body, headers: { 'content-type': type } });
}

// POST /api/v1/imports as multipart/form-data, encoded by fetch's FormData as a browser would.
async function formImport(token, fields, file, filename = 'import.csv') {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  if (file !== undefined) fd.append('file', new Blob([file], { type: 'text/csv' }), filename);
  const res = await fetch(`${BASE_URL}/api/v1/imports`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'user-agent': USER_AGENT }, body: fd,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

// Every record of a list query (all pages).
async function all(token, object, qs) {
  const out = [];
  let cursor = null;
  do {
    const res = await call(token, 'GET', `/api/v1/${object}?limit=200&${qs}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    const json = expectStatus(res, 200);
    out.push(...json.data);
    cursor = json.next_cursor;
  } while (cursor);
  return out;
}

function assertReport(rep, expected) {
  assertKeys(rep, REPORT_KEYS, 'import report');
  assert.equal(typeof rep.id, 'number');
  assertTime(rep.created_at, 'created_at');
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(rep[k], v, `report.${k}: ${JSON.stringify(rep).slice(0, 600)}`);
}

// GETs a streamed answer and reads its non-empty lines, at most maxLines (then
// aborts: a runaway stream must not hold the test for minutes).
async function readCapped(path, token, maxLines, ms = 60000) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  const res = await fetch(`${BASE_URL}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: ctl.signal });
  const decoder = new TextDecoder();
  let text = '';
  let breaks = 0;
  let truncated = false;
  try {
    for await (const chunk of res.body) {
      const part = decoder.decode(chunk, { stream: true });
      text += part;
      breaks += part.split('\n').length - 1;
      if (breaks > maxLines) {
        truncated = true;
        ctl.abort();
        break;
      }
    }
  } catch (err) {
    if (err.name !== 'AbortError') throw err;
    truncated = true;
  } finally {
    clearTimeout(timer);
  }
  const lines = text.split(/\r?\n/).filter(Boolean);
  return { status: res.status, lines: truncated ? lines.slice(0, maxLines + 1) : lines, truncated };
}

const gbk = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

before(async () => {
  [a, b] = await Promise.all([signup(), signup()]);
  [aOwner] = await listMembers(a.access_token);
  [aSales, aService, aReader] = await Promise.all([
    addMember(a.access_token, { role: 'sales', name: '导入销售' }),
    addMember(a.access_token, { role: 'service', name: '导入客服' }),
    addMember(a.access_token, { role: 'read-only', name: '导入只读' }),
  ]);
  expectStatus(await call(a.access_token, 'POST', '/api/v1/fields/customers', { body: { key: 'erp_code', label: 'ERP编码', type: 'text' } }), 201);
  expectStatus(await call(a.access_token, 'POST', '/api/v1/fields/customers', { body: { key: 'grade', label: '客户等级', type: 'select', options: ['金', '银'] } }), 201);
});

/* ---------------------------------------------------------------- UTF-8, raw body */

test('raw text/csv in UTF-8: good rows are created, a bad row is reported with its row, line and fields (201)', async () => {
  const src = `导入A ${unique()}`;
  const csv = [
    '客户名称,电话,邮箱,来源,客户级别',
    `深圳甲公司 ${src},13800000001,a@example.com,${src},A`,
    `"深圳乙公司 ${src}",13800000002,not-an-email,${src},B`,
    `"多行
名称 ${src}",13800000003,c@example.com,${src},C`,
    `,13800000004,d@example.com,${src},D`,
    `深圳丁公司 ${src},,,${src},`,
  ].join('\r\n');
  const res = await rawImport(a.access_token, csv, { object: 'customers' });
  const rep = expectStatus(res, 201);
  assertReport(rep, {
    object: 'customers', status: 'done', dry_run: false, duplicates: 'skip', total_rows: 5, processed_rows: 5,
    created: 3, updated: 0, skipped: 0, failed: 2, created_by: aOwner.id,
    mapping: { 客户名称: 'name', 电话: 'phone', 邮箱: 'email', 来源: 'source', 客户级别: 'level' },
  });
  assertTime(rep.finished_at, 'finished_at');
  assert.deepEqual(rep.errors.map((e) => [e.row, e.line, e.fields]), [
    [2, 3, { email: 'invalid_email' }],
    [4, 6, { name: 'required' }],
  ], 'row numbers count data rows, lines count the file\'s lines (a quoted field spans two)');
  for (const e of rep.errors) assert.equal(e.code, 'validation_failed');
  const made = await all(a.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}`);
  assert.deepEqual(made.map((c) => c.name).sort(), [`深圳甲公司 ${src}`, `多行\n名称 ${src}`, `深圳丁公司 ${src}`].sort());
  const first = made.find((c) => c.name.startsWith('深圳甲'));
  assert.equal(first.phone, '13800000001');
  assert.equal(first.level, 'A');
  assert.equal(first.owner_id, aOwner.id);
  assert.equal(first.created_by, aOwner.id);
  assert.deepEqual(expectStatus(await call(a.access_token, 'GET', `/api/v1/imports/${rep.id}`), 200), rep, 'GET answers the same report');
  const hist = expectStatus(await call(a.access_token, 'GET', `/api/v1/customers/${first.id}/history`), 200).data;
  assert.equal(hist.at(-1).action, 'create', 'an imported record is audited like any create');
});

test('UTF-8 with a BOM, LF or CR line ends, keys or labels as headers, tags, custom fields by label, a member by e-mail', async () => {
  const src = `导入B ${unique()}`;
  const csv = `\ufeffname,phone,source,标签,ERP编码,客户等级,负责人\n甲 ${src},,${src},vip; 华南,E-1,金,${aSales.email}\r乙 ${src},,${src},"重点,vip",E-2,银,${aSales.member.id}\n`;
  const rep = expectStatus(await rawImport(a.access_token, csv, { object: 'customers', filename: 'b.csv' }), 201);
  assertReport(rep, {
    created: 2, failed: 0, errors: [], filename: 'b.csv',
    mapping: { name: 'name', phone: 'phone', source: 'source', 标签: 'tags', ERP编码: 'custom.erp_code', 客户等级: 'custom.grade', 负责人: 'owner_id' },
  });
  const made = await all(a.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}&sort=name`);
  assert.deepEqual(made.map((c) => c.name), [`乙 ${src}`, `甲 ${src}`].sort());
  const jia = made.find((c) => c.name === `甲 ${src}`);
  assert.deepEqual([...jia.tags].sort(), ['vip', '华南'].sort());
  assert.deepEqual(jia.custom, { erp_code: 'E-1', grade: '金' });
  assert.equal(jia.owner_id, aSales.member.id, 'a member named by e-mail');
  const yi = made.find((c) => c.name === `乙 ${src}`);
  assert.deepEqual([...yi.tags].sort(), ['vip', '重点'].sort());
  assert.equal(yi.owner_id, aSales.member.id, 'a member named by id');
});

test('other objects import too: opportunities with a customer id and money, tasks with a due time, contacts', async () => {
  const cust = await createRecord(a.access_token, 'customers', { name: `导入商机客户 ${unique()}`, force: true });
  const n = unique();
  const opp = expectStatus(await rawImport(a.access_token, `商机名称,客户,金额,预计成交日期\n大单 ${n},${cust.id},1234.5,2026-12-31\n小单 ${n},999999999,1,2026-12-31\n`, { object: 'opportunities' }), 201);
  assertReport(opp, { created: 1, failed: 1 });
  assert.deepEqual(opp.errors.map((e) => [e.row, e.fields]), [[2, { customer_id: 'not_found' }]]);
  const [big] = await all(a.access_token, 'opportunities', `filter[customer_id]=${cust.id}`);
  assert.equal(big.name, `大单 ${n}`);
  assert.equal(big.amount, '1234.50');
  assert.equal(big.status, 'open');
  const tasks = expectStatus(await rawImport(a.access_token, `subject,due_at,priority\n回访 ${n},2026-05-01T09:00:00+08:00,high\n坏任务 ${n},明天,urgent\n`, { object: 'tasks' }), 201);
  assertReport(tasks, { created: 1, failed: 1 });
  assert.deepEqual(tasks.errors[0].fields, { due_at: 'invalid_datetime', priority: 'invalid_option' });
  const [task] = await all(a.access_token, 'tasks', `q=${encodeURIComponent(`回访 ${n}`)}`);
  assert.equal(Date.parse(task.due_at), Date.parse('2026-05-01T01:00:00Z'));
  const contacts = expectStatus(await rawImport(aService.access_token, `姓名,手机,客户\n客服导入 ${n},139 0000 1111,${cust.id}\n`, { object: 'contacts' }), 201);
  assertReport(contacts, { created: 0, failed: 1 }); // the customer is outside the service member's scope
  assert.deepEqual(contacts.errors[0].fields, { customer_id: 'not_found' });
  const own = expectStatus(await rawImport(aService.access_token, `姓名,手机\n客服导入 ${n},139 0000 1111\n`, { object: 'contacts' }), 201);
  assertReport(own, { created: 1, failed: 0, created_by: aService.member.id });
});

test('a customer named by its name (as a spreadsheet does): the one the importer may see; none is not_found, several ambiguous', async () => {
  const n = unique();
  const cust = await createRecord(aSales.access_token, 'customers', { name: `华信${n}科技有限公司` });
  await createRecord(aSales.access_token, 'customers', { name: `重名贸易 ${n}`, force: true });
  await createRecord(aSales.access_token, 'customers', { name: `重名贸易 ${n}`, force: true });
  await createRecord(a.access_token, 'customers', { name: `别人的客户 ${n}`, force: true });
  // the name as written elsewhere: without the company suffix, with other spacing
  const csv = `姓名,客户\n张三 ${n},华信 ${n} 科技\n李四 ${n},查无此客户 ${n}\n王五 ${n},重名贸易 ${n}\n赵六 ${n},别人的客户 ${n}\n`;
  const rep = expectStatus(await rawImport(aSales.access_token, csv, { object: 'contacts' }), 201);
  assertReport(rep, { created: 1, failed: 3 });
  assert.deepEqual(rep.errors.map((e) => [e.row, e.code, e.fields]), [
    [2, 'validation_failed', { customer_id: 'not_found' }],
    [3, 'validation_failed', { customer_id: 'ambiguous' }],
    [4, 'validation_failed', { customer_id: 'not_found' }], // the owner's: out of the sales member's scope
  ]);
  const [zhang] = await all(aSales.access_token, 'contacts', `q=${encodeURIComponent(`张三 ${n}`)}`);
  assert.equal(zhang.customer_id, cust.id);
  // the owner (scope all) sees the owner's customer, so that row imports for them
  const mine = expectStatus(await rawImport(a.access_token, `姓名,客户\n赵六 ${n},别人的客户 ${n}\n`, { object: 'contacts' }), 201);
  assertReport(mine, { created: 1, failed: 0 });
});

/* ---------------------------------------------------------------- multipart */

test('multipart/form-data: the file part and parameters as parts (any order), filename reported', async () => {
  const src = `导入M ${unique()}`;
  const csv = `客户名称,来源\n多部件甲 ${src},${src}\n多部件乙 ${src},${src}\n`;
  const rep = expectStatus(await formImport(a.access_token, { object: 'customers' }, csv, '客户清单.csv'), 201);
  assertReport(rep, { created: 2, failed: 0, filename: '客户清单.csv', object: 'customers' });
  assert.equal((await all(a.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}`)).length, 2);

  // parameters after the file, dry_run and a mapping as parts
  const fd = new FormData();
  fd.append('file', new Blob([`Company,Origin\n多部件丙 ${src},${src}\n`], { type: 'text/csv' }), 'c.csv');
  fd.append('object', 'customers');
  fd.append('mapping', JSON.stringify({ Company: 'name', Origin: 'source' }));
  fd.append('dry_run', 'true');
  const res = await fetch(`${BASE_URL}/api/v1/imports`, { method: 'POST', headers: { authorization: `Bearer ${a.access_token}` }, body: fd });
  const rep2 = await res.json();
  assert.equal(res.status, 201, JSON.stringify(rep2));
  assertReport(rep2, { created: 1, dry_run: true, mapping: { Company: 'name', Origin: 'source' } });
  assert.equal((await all(a.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}`)).length, 2, 'the dry run created nothing');
});

test('multipart/form-data: without a file part 422 file required; a malformed body 400; no boundary 400', async () => {
  assertError(await formImport(a.access_token, { object: 'customers' }), 422, 'validation_failed', { file: 'required' });
  const boundary = 'XyZ123';
  const bad = `--${boundary}\r\nContent-Disposition: form-data; name="object"\r\n\r\ncustomers\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n\r\nname\nx\n`;
  assertError(await rawImport(a.access_token, bad, {}, `multipart/form-data; boundary=${boundary}`), 400, 'bad_request');
  assertError(await rawImport(a.access_token, 'name\nx\n', {}, 'multipart/form-data'), 400, 'bad_request');
  const good = `--${boundary}\r\nContent-Disposition: form-data; name="object"\r\n\r\ncustomers\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\nContent-Type: text/csv\r\n\r\n客户名称\r\n手写多部件 ${unique()}\r\n--${boundary}--\r\n`;
  assertReport(expectStatus(await rawImport(a.access_token, good, {}, `multipart/form-data; boundary="${boundary}"`), 201), { created: 1, filename: 'x.csv' });
});

/* ---------------------------------------------------------------- GBK */

test('GBK files (auto-detected or declared) import with Chinese headers and names; a bad row is reported', async () => {
  const n = unique();
  const file = gbk(GBK.客户名称, ',', GBK.邮箱, ',source\r\n', GBK.华为, `-${n},hw@example.com,gbk-${n}\r\n`, GBK.中兴, `-${n},bad@,gbk-${n}\r\n`);
  assert.throws(() => new TextDecoder('utf-8', { fatal: true }).decode(file), 'the test file is not UTF-8');
  const rep = expectStatus(await rawImport(a.access_token, file, { object: 'customers' }), 201);
  assertReport(rep, { created: 1, failed: 1, mapping: { 客户名称: 'name', 邮箱: 'email', source: 'source' } });
  assert.deepEqual(rep.errors.map((e) => [e.row, e.line, e.fields]), [[2, 3, { email: 'invalid_email' }]]);
  const made = await all(a.access_token, 'customers', `filter[source]=gbk-${n}`);
  assert.deepEqual(made.map((c) => c.name), [`华为-${n}`]);
  assert.equal(made[0].email, 'hw@example.com');

  const n2 = unique();
  const declared = gbk(GBK.客户名称, ',source\n', GBK.中兴, `-${n2},gbk-${n2}\n`);
  const rep2 = expectStatus(await formImport(a.access_token, { object: 'customers', encoding: 'gbk' }, declared), 201);
  assertReport(rep2, { created: 1, failed: 0 });
  assert.deepEqual((await all(a.access_token, 'customers', `filter[source]=gbk-${n2}`)).map((c) => c.name), [`中兴-${n2}`]);
});

test('encodings: GBK bytes declared utf-8 422 encoding, an unknown encoding 422, a NUL byte 422; nothing is created', async () => {
  const n = unique();
  const file = gbk(GBK.客户名称, ',source\n', GBK.华为, `-${n},enc-${n}\n`);
  assertError(await rawImport(a.access_token, file, { object: 'customers', encoding: 'utf-8' }), 422, 'validation_failed', { encoding: 'invalid_encoding' });
  assertError(await rawImport(a.access_token, file, { object: 'customers', encoding: 'latin1' }), 422, 'validation_failed', { encoding: 'invalid_value' });
  assertError(await rawImport(a.access_token, Buffer.concat([Buffer.from('name\nx'), Buffer.from([0]), Buffer.from('y\n')]), { object: 'customers' }), 422, 'validation_failed', { encoding: 'invalid_encoding' });
  const bomGbk = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), file]);
  assertError(await rawImport(a.access_token, bomGbk, { object: 'customers' }), 422, 'validation_failed', { encoding: 'invalid_encoding' });
  assert.deepEqual(await all(a.access_token, 'customers', `filter[source]=enc-${n}`), []);
});

/* ---------------------------------------------------------------- dry run, duplicates */

test('dry_run=true validates every row and reports as a real run would, but creates and changes nothing', async () => {
  const src = `导入D ${unique()}`;
  const existing = await createRecord(a.access_token, 'customers', { name: `已存在 ${src}`, source: src, level: 'A' });
  const csv = `客户名称,邮箱,来源,客户级别\n新客户一 ${src},x@example.com,${src},B\n新客户二 ${src},oops,${src},B\n已存在 ${src},,${src},C\n`;
  for (const duplicates of ['skip', 'update']) {
    const rep = expectStatus(await rawImport(a.access_token, csv, { object: 'customers', dry_run: 'true', duplicates }), 201);
    assertReport(rep, {
      dry_run: true, status: 'done', total_rows: 3, processed_rows: 3, created: 1, failed: 1, duplicates,
      updated: duplicates === 'update' ? 1 : 0, skipped: duplicates === 'skip' ? 1 : 0,
    });
    assert.deepEqual(rep.errors.map((e) => [e.row, e.fields]), [[2, { email: 'invalid_email' }]]);
  }
  const left = await all(a.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}`);
  assert.deepEqual(left.map((c) => c.id), [existing.id], 'nothing created');
  assert.equal(left[0].level, 'A');
  assert.equal(left[0].version, existing.version, 'nothing updated');
});

test('duplicates=skip (default) skips a row matching a live customer by name or phone; update changes it; create adds another', async () => {
  const src = `导入R ${unique()}`;
  const p = `137${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
  const byName = await createRecord(a.access_token, 'customers', { name: `重复公司 ${src} 有限公司`, source: src, level: 'A' });
  const byPhone = await createRecord(a.access_token, 'customers', { name: `电话重复 ${src}`, phone: p, source: src, level: 'A' });
  const csv = `客户名称,电话,来源,客户级别\n重复公司 ${src},,${src},B\n另一个名字 ${src},+86 ${p},${src},C\n`;

  const skip = expectStatus(await rawImport(a.access_token, csv, { object: 'customers' }), 201);
  assertReport(skip, { duplicates: 'skip', skipped: 2, created: 0, updated: 0, failed: 0 });
  assert.equal((await all(a.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}`)).length, 2);
  assert.equal((await call(a.access_token, 'GET', `/api/v1/customers/${byName.id}`)).json.level, 'A');

  const upd = expectStatus(await rawImport(a.access_token, csv, { object: 'customers', duplicates: 'update' }), 201);
  assertReport(upd, { duplicates: 'update', updated: 2, created: 0, skipped: 0, failed: 0 });
  const n1 = expectStatus(await call(a.access_token, 'GET', `/api/v1/customers/${byName.id}`), 200);
  assert.equal(n1.level, 'B');
  assert.equal(n1.version, byName.version + 1);
  const n2 = expectStatus(await call(a.access_token, 'GET', `/api/v1/customers/${byPhone.id}`), 200);
  assert.equal(n2.level, 'C');
  assert.equal(n2.name, `另一个名字 ${src}`);
  assert.equal((await all(a.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}`)).length, 2);

  const crt = expectStatus(await rawImport(a.access_token, csv, { object: 'customers', duplicates: 'create' }), 201);
  assertReport(crt, { duplicates: 'create', created: 2, updated: 0, skipped: 0, failed: 0 });
  assert.equal((await all(a.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}`)).length, 4);
  assertError(await rawImport(a.access_token, csv, { object: 'customers', duplicates: 'merge' }), 422, 'validation_failed', { duplicates: 'invalid_option' });
});

test('duplicates inside one file: with skip, the second row of the same company is skipped', async () => {
  const src = `导入S ${unique()}`;
  const csv = `客户名称,来源\n同名公司 ${src},${src}\n同名公司 ${src} 有限公司,${src}\n`;
  const rep = expectStatus(await rawImport(a.access_token, csv, { object: 'customers' }), 201);
  assertReport(rep, { created: 1, skipped: 1 });
  assert.equal((await all(a.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}`)).length, 1);
});

/* ---------------------------------------------------------------- mapping */

test('an explicit mapping: columns to core and custom fields, "" ignores a column; unknown target or column 422', async () => {
  const src = `导入P ${unique()}`;
  const csv = `Company,Code,Notes,Origin\nMapped Ltd ${src},M-1,ignore me,${src}\n`;
  const mapping = JSON.stringify({ Company: 'name', Code: 'custom.erp_code', Notes: '', Origin: 'source' });
  const rep = expectStatus(await rawImport(a.access_token, csv, { object: 'customers', mapping }), 201);
  assertReport(rep, { created: 1, failed: 0, mapping: { Company: 'name', Code: 'custom.erp_code', Origin: 'source' } });
  const [made] = await all(a.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}`);
  assert.equal(made.name, `Mapped Ltd ${src}`);
  assert.deepEqual(made.custom, { erp_code: 'M-1' });

  const bad = async (m, reason) => {
    const res = await rawImport(a.access_token, csv, { object: 'customers', mapping: typeof m === 'string' ? m : JSON.stringify(m) });
    assertError(res, 422, 'validation_failed');
    assert.ok(reason.test(res.json.error.fields?.mapping ?? ''), `fields.mapping of ${res.text}`);
  };
  await bad({ Company: 'nickname' }, /^unknown_field/);
  await bad({ Company: 'custom.nothing' }, /^unknown_field/);
  await bad({ Company: 'in_pool' }, /^unknown_field/); // a system field is no target
  await bad({ Company: 'name', Missing: 'phone' }, /^unknown_column$/);
  await bad({ Company: '', Code: '', Notes: '', Origin: '' }, /^no_column_mapped$/);
  await bad('{"Company": ', /^invalid_json$/);
  await bad('["name"]', /^invalid_json$/);
  assert.equal((await all(a.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}`)).length, 1, 'nothing more was created');
});

test('a file whose headers map to no field answers 422 mapping no_column_mapped', async () => {
  assertError(await rawImport(a.access_token, 'foo,bar\n1,2\n', { object: 'customers' }), 422, 'validation_failed', { mapping: 'no_column_mapped' });
  assertError(await rawImport(a.access_token, 'foo,bar\n1,2\n', { object: 'tasks' }), 422, 'validation_failed', { mapping: 'no_column_mapped' });
});

/* ---------------------------------------------------------------- refusals */

test('an empty file, a header without rows, blank lines only: 422 naming file', async () => {
  assertError(await rawImport(a.access_token, '', { object: 'customers' }), 422, 'validation_failed', { file: ['required', 'empty'] });
  assertError(await rawImport(a.access_token, '客户名称,电话\n', { object: 'customers' }), 422, 'validation_failed', { file: 'empty' });
  assertError(await rawImport(a.access_token, '\r\n\n\r\n', { object: 'customers' }), 422, 'validation_failed', { file: 'empty' });
  assertError(await rawImport(a.access_token, '\ufeff', { object: 'customers' }), 422, 'validation_failed', { file: 'empty' });
  assertError(await formImport(a.access_token, { object: 'customers' }, ''), 422, 'validation_failed', { file: ['required', 'empty'] });
});

test('a malformed CSV (unclosed quote, text after a quote, quote in a plain field) answers 422 naming csv; nothing is created', async () => {
  const src = `导入X ${unique()}`;
  for (const body of [
    `客户名称,来源\n"未闭合 ${src},${src}\n好的 ${src},${src}\n`,
    `客户名称,来源\n"名字"多余 ${src},${src}\n`,
    `客户名称,来源\n名"字 ${src},${src}\n`,
  ]) {
    assertError(await rawImport(a.access_token, body, { object: 'customers' }), 422, 'validation_failed', { csv: 'malformed_row' });
  }
  assertError(await rawImport(a.access_token, `客户名称\n"${'长'.repeat(70000)}"\n`, { object: 'customers' }), 422, 'validation_failed', { csv: 'field_too_long' });
  assertError(await rawImport(a.access_token, `${Array.from({ length: 201 }, (_, i) => `c${i}`).join(',')}\n`, { object: 'customers' }), 422, 'validation_failed', { csv: 'too_many_columns' });
  assert.deepEqual(await all(a.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}`), []);
});

test('a wrong Content-Type answers 415; text/plain and application/octet-stream are files', async () => {
  const csv = `客户名称\n内容类型 ${unique()}\n`;
  for (const type of ['application/json', 'application/xml', 'application/x-www-form-urlencoded', 'image/png']) {
    assertError(await rawImport(a.access_token, csv, { object: 'customers' }, type), 415, 'unsupported_media_type');
  }
  assertError(await api('POST', '/api/v1/imports?object=customers', { token: a.access_token, raw: csv, headers: { 'content-type': null } }), 415, 'unsupported_media_type');
  assertReport(expectStatus(await rawImport(a.access_token, `客户名称\n纯文本 ${unique()}\n`, { object: 'customers' }, 'text/plain; charset=utf-8'), 201), { created: 1 });
  assertReport(expectStatus(await rawImport(a.access_token, `客户名称\n八位字节 ${unique()}\n`, { object: 'customers' }, 'application/octet-stream'), 201), { created: 1 });
});

test('parameters: an unknown object 422 object invalid_option, no object 422 required, a bad dry_run 422', async () => {
  const csv = `name\n参数 ${unique()}\n`;
  for (const object of ['pipelines', 'members', 'nope', 'Customers']) {
    assertError(await rawImport(a.access_token, csv, { object }), 422, 'validation_failed', { object: 'invalid_option' });
  }
  assertError(await rawImport(a.access_token, csv), 422, 'validation_failed', { object: 'required' });
  assertError(await formImport(a.access_token, {}, csv), 422, 'validation_failed', { object: 'required' });
  assertError(await rawImport(a.access_token, csv, { object: 'customers', dry_run: 'yes' }), 422, 'validation_failed', { dry_run: 'invalid_value' });
  assertError(await api('POST', '/api/v1/imports?object=customers', { raw: csv, headers: { 'content-type': 'text/csv' } }), 401, 'unauthorized');
});

test('rights: a role without the object\'s create right gets 403 (read-only, service on customers); update policy needs update', async () => {
  const csv = `客户名称\n无权导入 ${unique()}\n`;
  assertError(await rawImport(aReader.access_token, csv, { object: 'customers' }), 403, 'forbidden');
  assertError(await rawImport(aReader.access_token, `姓名\n无权 ${unique()}\n`, { object: 'contacts' }), 403, 'forbidden');
  assertError(await rawImport(aService.access_token, csv, { object: 'customers' }), 403, 'forbidden');
  assertError(await formImport(aService.access_token, { object: 'leads' }, `姓名\n无权 ${unique()}\n`), 403, 'forbidden');
  const k = `importer-${unique()}`.slice(0, 32);
  expectStatus(await call(a.access_token, 'POST', '/api/v1/roles', { body: { key: k, name: '只建客户', record_scope: 'own', permissions: ['customers.read', 'customers.create'] } }), 201);
  const m = await addMember(a.access_token, { role: k });
  assertError(await rawImport(m.access_token, csv, { object: 'customers', duplicates: 'update' }), 403, 'forbidden');
  assertReport(expectStatus(await rawImport(m.access_token, csv, { object: 'customers' }), 201), { created: 1, created_by: m.member.id });
});

test('a sales member\'s rows are theirs; a row giving a record to someone outside their scope fails on its own', async () => {
  const src = `导入O ${unique()}`;
  const csv = `客户名称,来源,负责人\n销售的 ${src},${src},\n给老板的 ${src},${src},${aOwner.id}\n`;
  const rep = expectStatus(await rawImport(aSales.access_token, csv, { object: 'customers' }), 201);
  assertReport(rep, { created: 1, failed: 1, created_by: aSales.member.id });
  assert.deepEqual(rep.errors.map((e) => [e.row, e.fields]), [[2, { owner_id: 'out_of_scope' }]]);
  const [made] = await all(aSales.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}`);
  assert.equal(made.owner_id, aSales.member.id);
});

test('GET /imports/{id}: the importer and scope-all roles see an import; others in scope own, other tenants and unknown ids 404', async () => {
  const mine = expectStatus(await rawImport(aSales.access_token, `客户名称\n查看导入 ${unique()}\n`, { object: 'customers' }), 201);
  const owners = expectStatus(await rawImport(a.access_token, `客户名称\n老板导入 ${unique()}\n`, { object: 'customers' }), 201);
  expectStatus(await call(aSales.access_token, 'GET', `/api/v1/imports/${mine.id}`), 200);
  assert.equal(expectStatus(await call(a.access_token, 'GET', `/api/v1/imports/${mine.id}`), 200).id, mine.id, 'the owner (scope all) sees it');
  assertError(await call(aSales.access_token, 'GET', `/api/v1/imports/${owners.id}`), 404, 'not_found');
  let other;
  do {
    other = expectStatus(await rawImport(b.access_token, `客户名称\n乙导入 ${unique()}\n`, { object: 'customers' }), 201);
  } while (other.id <= owners.id);
  assertError(await call(a.access_token, 'GET', `/api/v1/imports/${other.id}`), 404, 'not_found');
  for (const id of ['99999999', '0', 'abc', '-1']) assertError(await call(a.access_token, 'GET', `/api/v1/imports/${id}`), 404, 'not_found');
  assertError(await api('GET', `/api/v1/imports/${mine.id}`), 401, 'unauthorized');
});

test('GET /imports lists the imports the caller may see, newest first, without their bad rows; pages by cursor; bad paging refused', async () => {
  const mine = expectStatus(await rawImport(aSales.access_token, `name,phone\n列表导入 ${unique()},12\n`, { object: 'customers' }), 201);
  const owners = expectStatus(await rawImport(a.access_token, `客户名称\n列表老板 ${unique()}\n`, { object: 'customers' }), 201);
  const salesList = expectStatus(await call(aSales.access_token, 'GET', '/api/v1/imports?limit=200'), 200).data;
  assert.ok(salesList.every((i) => i.created_by === aSales.member.id), 'a sales member sees only their own');
  const listed = salesList.find((i) => i.id === mine.id);
  assert.equal(listed.failed, 1);
  assert.equal(listed.status, 'done');
  assert.ok(!('errors' in listed), 'the bad rows are in GET /imports/{id}');
  const ownerFirst = expectStatus(await call(a.access_token, 'GET', '/api/v1/imports?limit=1'), 200);
  assert.deepEqual(ownerFirst.data.map((i) => i.id), [owners.id], 'newest first');
  const next = expectStatus(await call(a.access_token, 'GET', `/api/v1/imports?limit=1&cursor=${ownerFirst.next_cursor}`), 200);
  assert.ok(next.data[0].id < owners.id, 'the next page goes on below');
  const c = await signup();
  assert.deepEqual(expectStatus(await call(c.access_token, 'GET', '/api/v1/imports'), 200).data, [], 'a new workspace lists none of the others\'');
  const theirs = expectStatus(await rawImport(c.access_token, `客户名称\n丙导入 ${unique()}\n`, { object: 'customers' }), 201);
  assert.deepEqual(expectStatus(await call(c.access_token, 'GET', '/api/v1/imports'), 200).data.map((i) => i.id), [theirs.id]);
  assertError(await call(a.access_token, 'GET', '/api/v1/imports?limit=0'), 422, 'validation_failed', { limit: 'invalid_value' });
  assertError(await call(a.access_token, 'GET', '/api/v1/imports?cursor=nonsense'), 400, 'bad_request', { cursor: 'invalid_value' });
  assertError(await api('GET', '/api/v1/imports'), 401, 'unauthorized');
});

test('GET /imports?dry_run=false|true keeps the real imports or the dry runs; any other value 400', async () => {
  const c = await signup();
  const csv = `客户名称\n试运行筛选 ${unique()}\n`;
  const dry = expectStatus(await rawImport(c.access_token, csv, { object: 'customers', dry_run: 'true' }), 201);
  const real = expectStatus(await rawImport(c.access_token, csv, { object: 'customers' }), 201);
  const ids = async (q) => expectStatus(await call(c.access_token, 'GET', `/api/v1/imports${q}`), 200).data.map((i) => i.id);
  assert.deepEqual(await ids(''), [real.id, dry.id]);
  assert.deepEqual(await ids('?dry_run=false'), [real.id]);
  assert.deepEqual(await ids('?dry_run=true&limit=5'), [dry.id]);
  for (const bad of ['yes', '1', '', 'TRUE']) {
    assertError(await call(c.access_token, 'GET', `/api/v1/imports?dry_run=${bad}`), 400, 'bad_request', { dry_run: 'invalid_value' });
  }
});

test('a body over 20 MiB answers 413 payload_too_large; nothing is created', async () => {
  const src = `导入L ${unique()}`;
  const head = Buffer.from(`客户名称,来源\n超大 ${src},${src}\n`);
  const body = Buffer.concat([head, Buffer.alloc(20 * MiB + 1 - head.length, 0x41)]);
  assertError(await rawImport(a.access_token, body, { object: 'customers' }), 413, 'payload_too_large');
  assert.deepEqual(await all(a.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}`), []);
});

/* ---------------------------------------------------------------- large files: a job */

test('exactly 500 rows run in the request (201)', async () => {
  const src = `导入500 ${unique()}`;
  const rows = Array.from({ length: 500 }, (_, i) => `五百行 ${src} ${i},${src}`);
  const rep = expectStatus(await rawImport(a.access_token, `客户名称,来源\n${rows.join('\n')}\n`, { object: 'customers', dry_run: 'true' }), 201);
  assertReport(rep, { status: 'done', total_rows: 500, processed_rows: 500, created: 500, failed: 0 });
});

test('a file of more than 500 rows is queued (202); crm-worker imports every good row exactly once, with progress', async () => {
  const src = `导入J ${unique()}`;
  const N = 620;
  const bad = new Set([3, 505, 611]);
  const names = [];
  const rows = [];
  for (let i = 1; i <= N; i++) {
    const name = `批量客户 ${src} ${String(i).padStart(4, '0')}`;
    rows.push(`${name},${bad.has(i) ? 'broken@' : `c${i}@example.com`},${src}`);
    if (!bad.has(i)) names.push(name);
  }
  const res = await rawImport(a.access_token, `客户名称,邮箱,来源\r\n${rows.join('\r\n')}\r\n`, { object: 'customers' });
  const queued = expectStatus(res, 202);
  assertReport(queued, { status: 'queued', total_rows: N, processed_rows: 0, created: 0, failed: 0, errors: [], finished_at: null });

  const seen = new Set();
  let rep;
  const deadline = Date.now() + 120000;
  for (;;) {
    rep = expectStatus(await call(a.access_token, 'GET', `/api/v1/imports/${queued.id}`), 200);
    seen.add(rep.status);
    assert.ok(['queued', 'running', 'done'].includes(rep.status), `status ${rep.status}`);
    assert.ok(rep.processed_rows >= 0 && rep.processed_rows <= N);
    assert.equal(rep.created + rep.failed + rep.skipped + rep.updated, rep.processed_rows, 'the counts add up to the progress');
    if (rep.status === 'done') break;
    assert.ok(Date.now() < deadline, `the import is still ${rep.status} at ${rep.processed_rows}/${N} after 120 s: is crm-worker running?`);
    await new Promise((r) => setTimeout(r, 250));
  }
  assertReport(rep, { status: 'done', total_rows: N, processed_rows: N, created: N - bad.size, failed: bad.size, skipped: 0 });
  assertTime(rep.finished_at, 'finished_at');
  assert.deepEqual(rep.errors.map((e) => [e.row, e.line, e.fields]), [...bad].map((i) => [i, i + 1, { email: 'invalid_email' }]));

  const made = await all(a.access_token, 'customers', `filter[source]=${encodeURIComponent(src)}`);
  assert.equal(made.length, N - bad.size, 'every good row once');
  assert.deepEqual(made.map((c) => c.name).sort(), names.sort(), 'exactly the good rows, none twice');
  assert.ok(made.every((c) => c.created_by === aOwner.id && c.owner_id === aOwner.id), 'created as the importer');

  // importing the same file again with skip: every good row is a duplicate now
  const again = expectStatus(await rawImport(a.access_token, `客户名称,邮箱,来源\r\n${rows.join('\r\n')}\r\n`, { object: 'customers', dry_run: 'true' }), 202);
  const deadline2 = Date.now() + 120000;
  do {
    await new Promise((r) => setTimeout(r, 250));
    rep = expectStatus(await call(a.access_token, 'GET', `/api/v1/imports/${again.id}`), 200);
    assert.ok(Date.now() < deadline2, 'the second import finishes');
  } while (rep.status !== 'done');
  assertReport(rep, { dry_run: true, skipped: N - bad.size, created: 0, failed: bad.size });

  big = { src, ids: made.map((c) => c.id) };
});

test('an export of more than 500 records (the imported ones) streams each record once, then ends', async () => {
  assert.ok(big, 'the large import ran');
  // read at most a little more than expected, then stop: a runaway stream must not hold the test
  const exp = await readCapped(`/api/v1/customers/export?filter[source]=${encodeURIComponent(big.src)}`, a.access_token, big.ids.length + 10);
  assert.equal(exp.status, 200);
  assert.equal(exp.lines.length, 1 + big.ids.length, `a header and one line per record${exp.truncated ? ' (the export went on: stopped reading)' : ''}`);
  const ids = exp.lines.slice(1).map((l) => Number(l.split(',')[0]));
  assert.deepEqual([...ids].sort((x, y) => x - y), [...big.ids].sort((x, y) => x - y), 'each record once');
});
