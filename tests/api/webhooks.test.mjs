// Webhooks and e-mail: CRUD of /api/v1/webhooks (422 naming fields, 404 across
// tenants, 403 without settings.manage, 412 on a stale version), and the
// deliveries crm-worker makes (app/modules/automation/deliver.c) to a local
// HTTP receiver started here: a generic webhook signed with X-CRM-Signature,
// retries until the endpoint accepts (2 + 4 + 8 s of backoff), DingTalk's
// signed URL and errcode, WeCom's body, the event filter, and an e-mail rule
// whose message lands in the stack's SMTP sink (var/<profile>/mail). The test
// stack sets CRM_WEBHOOK_ALLOW_PRIVATE, so webhooks may reach 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  addMember, api, assertError, assertKeys, createRecord, expectStatus, signup, unique, VAR_DIR,
} from './lib.mjs';

const MAIL_DIR = path.join(VAR_DIR, 'mail');
const WEBHOOK_KEYS = ['id', 'name', 'kind', 'url', 'events', 'enabled', 'version', 'created_at', 'updated_at', 'last_delivery'];
const DELIVERY_KEYS = ['id', 'webhook_id', 'event', 'payload', 'status', 'attempts', 'response_status', 'response_body',
  'last_error', 'created_at', 'delivered_at'];

let a; // tenant A's owner
let b; // tenant B's owner
let sales; // a sales member of A (no settings.manage)
let receiver; // the local HTTP endpoint
let base; // its URL

const call = (token, method, urlPath, body) => api(method, urlPath, { token, body });

/* ---------- the receiver ---------- */

// Every request, by path: {path, query, headers, body}. `plan` maps a path to a
// list of statuses to answer in turn (the last one repeats) and an optional body.
const received = new Map();
const plan = new Map();

function startReceiver() {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url, 'http://receiver');
        const hit = { path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        if (!received.has(url.pathname)) received.set(url.pathname, []);
        received.get(url.pathname).push(hit);
        const p = plan.get(url.pathname) || { statuses: [200] };
        const n = received.get(url.pathname).length;
        const status = p.statuses[Math.min(n, p.statuses.length) - 1];
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(p.body ?? JSON.stringify({ ok: status < 300, n }));
      });
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const hits = (p) => received.get(p) || [];

// Polls fn until it answers a truthy value; fails after `seconds`.
async function waitFor(what, fn, seconds = 20) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function deliveries(token, id) {
  return expectStatus(await call(token, 'GET', `/api/v1/webhooks/${id}/deliveries`), 200).data;
}

async function createHook(token, body) {
  return expectStatus(await call(token, 'POST', '/api/v1/webhooks', body), 201);
}

function signatureOf(secret, ts, body) {
  return `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
}

function sameText(x, y) {
  const bx = Buffer.from(x);
  const by = Buffer.from(y);
  return bx.length === by.length && timingSafeEqual(bx, by);
}

before(async () => {
  [a, b] = await Promise.all([signup(), signup()]);
  sales = await addMember(a.access_token, { role: 'sales', name: '王销售' });
  receiver = await startReceiver();
  base = `http://127.0.0.1:${receiver.address().port}`;
});

after(() => receiver?.close());

/* ---------- CRUD ---------- */

test('POST /webhooks creates a webhook; GET lists it without another tenant seeing it', async () => {
  const t = a.access_token;
  const hook = await createHook(t, { name: '订单系统', url: `${base}/crud`, events: ['customer.created'], enabled: false });
  assertKeys(hook, WEBHOOK_KEYS, 'webhook');
  assert.equal(hook.name, '订单系统');
  assert.equal(hook.kind, 'generic');
  assert.deepEqual(hook.events, ['customer.created']);
  assert.equal(hook.enabled, false);
  assert.equal(hook.version, 1);
  assert.equal(hook.last_delivery, null);

  const list = expectStatus(await call(t, 'GET', '/api/v1/webhooks'), 200).data;
  assert.ok(list.some((w) => w.id === hook.id), 'the list has the new webhook');
  const other = expectStatus(await call(b.access_token, 'GET', '/api/v1/webhooks'), 200).data;
  assert.ok(!other.some((w) => w.id === hook.id && w.url === hook.url), "tenant B does not see A's webhook");

  const defaults = await createHook(t, { name: '全部事件', url: 'https://example.com/hook', enabled: false });
  assert.deepEqual(defaults.events, ['*'], 'events default to every event');
  assert.equal(typeof defaults.secret, 'string');
  assert.ok(defaults.secret.length >= 32, 'a secret is made when none is given');
});

test('POST /webhooks with bad fields → 422 naming each', async () => {
  const t = a.access_token;
  assertError(await call(t, 'POST', '/api/v1/webhooks', {}), 422, 'validation_failed', { name: 'required', url: 'invalid_format' });
  assertError(await call(t, 'POST', '/api/v1/webhooks', {
    name: 'x'.repeat(101), kind: 'slack', url: 'ftp://example.com/x', events: ['Customer Created'], enabled: 'yes', secret: 'short',
  }), 422, 'validation_failed', {
    name: 'required', kind: 'invalid_value', url: 'invalid_format', events: 'invalid_value', enabled: 'invalid_value', secret: 'invalid_value',
  });
  assertError(await call(t, 'POST', '/api/v1/webhooks', { name: 'a', url: 'http:///nohost' }), 422, 'validation_failed', { url: 'invalid_format' });
  assertError(await call(t, 'POST', '/api/v1/webhooks', { name: 'a', url: `https://example.com/${'p'.repeat(2000)}` }), 422,
    'validation_failed', { url: 'invalid_format' });
  assertError(await call(t, 'POST', '/api/v1/webhooks', { name: 'a', url: 'https://example.com/', events: [] }), 422,
    'validation_failed', { events: 'invalid_value' });
  assertError(await call(t, 'POST', '/api/v1/webhooks', { name: 'a', url: 'https://example.com/', events: 'customer.created' }), 422,
    'validation_failed', { events: 'invalid_value' });
});

test('PATCH /webhooks/{id} changes it and bumps the version; a stale version → 412', async () => {
  const t = a.access_token;
  const hook = await createHook(t, { name: '旧名称', url: `${base}/patch`, enabled: false });
  const changed = expectStatus(await call(t, 'PATCH', `/api/v1/webhooks/${hook.id}`, {
    name: '新名称', events: ['lead.*', 'customer.updated'], version: hook.version,
  }), 200);
  assert.equal(changed.name, '新名称');
  assert.deepEqual(changed.events, ['lead.*', 'customer.updated']);
  assert.equal(changed.url, hook.url, 'fields not sent stay');
  assert.equal(changed.version, hook.version + 1);
  assertError(await call(t, 'PATCH', `/api/v1/webhooks/${hook.id}`, { name: '再改', version: hook.version }), 412, 'version_conflict');
  assertError(await call(t, 'PATCH', `/api/v1/webhooks/${hook.id}`, { url: 'not a url' }), 422, 'validation_failed',
    { url: 'invalid_format' });
});

test("another tenant's webhook → 404 on PATCH, DELETE and its deliveries; a missing id → 404", async () => {
  const hook = await createHook(a.access_token, { name: 'A 的', url: `${base}/isolated`, enabled: false });
  const tb = b.access_token;
  assertError(await call(tb, 'PATCH', `/api/v1/webhooks/${hook.id}`, { name: 'B 改的' }), 404, 'not_found');
  assertError(await call(tb, 'DELETE', `/api/v1/webhooks/${hook.id}`), 404, 'not_found');
  assertError(await call(tb, 'GET', `/api/v1/webhooks/${hook.id}/deliveries`), 404, 'not_found');
  assertError(await call(a.access_token, 'GET', '/api/v1/webhooks/999999999/deliveries'), 404, 'not_found');
  assertError(await call(a.access_token, 'GET', '/api/v1/webhooks/abc/deliveries'), 404, 'not_found');
  const still = expectStatus(await call(a.access_token, 'GET', '/api/v1/webhooks'), 200).data.find((w) => w.id === hook.id);
  assert.equal(still.name, 'A 的', 'unchanged by tenant B');
});

test('a member without settings.manage → 403 on every webhook route', async () => {
  const hook = await createHook(a.access_token, { name: '受保护', url: `${base}/forbidden`, enabled: false });
  const t = sales.access_token;
  assertError(await call(t, 'GET', '/api/v1/webhooks'), 403, 'forbidden');
  assertError(await call(t, 'POST', '/api/v1/webhooks', { name: 'x', url: 'https://example.com/' }), 403, 'forbidden');
  assertError(await call(t, 'PATCH', `/api/v1/webhooks/${hook.id}`, { name: 'x' }), 403, 'forbidden');
  assertError(await call(t, 'DELETE', `/api/v1/webhooks/${hook.id}`), 403, 'forbidden');
  assertError(await call(t, 'GET', `/api/v1/webhooks/${hook.id}/deliveries`), 403, 'forbidden');
});

test('DELETE /webhooks/{id} → 204; then it is gone', async () => {
  const t = a.access_token;
  const hook = await createHook(t, { name: '待删除', url: `${base}/deleted`, enabled: false });
  const res = await call(t, 'DELETE', `/api/v1/webhooks/${hook.id}`);
  assert.equal(res.status, 204, res.text);
  assertError(await call(t, 'DELETE', `/api/v1/webhooks/${hook.id}`), 404, 'not_found');
  assertError(await call(t, 'GET', `/api/v1/webhooks/${hook.id}/deliveries`), 404, 'not_found');
});

/* ---------- deliveries (crm-worker) ---------- */

test('a generic webhook gets customer.created signed with X-CRM-Signature; the log shows it done with 200', async () => {
  const owner = await signup();
  const t = owner.access_token;
  const secret = `s-${unique()}-secret`;
  const p = `/generic-${unique()}`;
  const hook = await createHook(t, { name: '通用', url: `${base}${p}?src=crm`, secret, events: ['customer.created'] });
  const name = `华为技术 ${unique()}`;
  const customer = await createRecord(t, 'customers', { name });

  const [hit] = await waitFor('the customer.created delivery', () => hits(p).length > 0 && hits(p));
  assert.equal(hit.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(hit.headers['x-crm-event'], 'customer.created');
  assert.equal(hit.query.get('src'), 'crm', 'the query string is kept');
  const ts = hit.headers['x-crm-timestamp'];
  assert.match(ts, /^\d{10}$/);
  assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 120, 'the timestamp is now');
  assert.ok(sameText(hit.headers['x-crm-signature'], signatureOf(secret, ts, hit.body)), 'X-CRM-Signature verifies');
  assert.ok(!sameText(hit.headers['x-crm-signature'], signatureOf(`${secret}x`, ts, hit.body)), 'another secret does not');
  const event = JSON.parse(hit.body);
  assert.equal(event.event, 'customer.created');
  assert.equal(event.object, 'customers');
  assert.equal(event.record_id, customer.id);
  assert.equal(event.data.name, name);
  assert.ok(!('_automation' in event.data), 'internal bookkeeping is not sent');

  const log = await waitFor('the delivery to be recorded', async () => {
    const d = await deliveries(t, hook.id);
    return d.length === 1 && d[0].status === 'done' && d;
  });
  assertKeys(log[0], DELIVERY_KEYS, 'delivery');
  assert.equal(String(log[0].id), hit.headers['x-crm-delivery'], 'X-CRM-Delivery is the delivery id');
  assert.equal(log[0].event, 'customer.created');
  assert.equal(log[0].attempts, 1);
  assert.equal(log[0].response_status, 200);
  assert.match(log[0].response_body, /"ok":true/);
  assert.equal(log[0].last_error, null);
  assert.ok(log[0].delivered_at);
  const listed = expectStatus(await call(t, 'GET', '/api/v1/webhooks'), 200).data.find((w) => w.id === hook.id);
  assert.equal(listed.last_delivery.status, 'done');
  assert.equal(listed.last_delivery.response_status, 200);
  assert.equal(hits(p).length, 1, 'delivered once');
});

test('an endpoint that fails 3 times gets the event again until it accepts: once as a success, attempts 4', async () => {
  const owner = await signup();
  const t = owner.access_token;
  const p = `/flaky-${unique()}`;
  plan.set(p, { statuses: [500, 503, 502, 200] });
  const hook = await createHook(t, { name: '不稳定', url: `${base}${p}`, events: ['customer.created'] });
  await createRecord(t, 'customers', { name: `中兴通讯 ${unique()}` });

  const log = await waitFor('the fourth attempt to succeed', async () => {
    const d = await deliveries(t, hook.id);
    return d.length === 1 && d[0].status === 'done' && d;
  }, 45);
  assert.equal(log[0].attempts, 4);
  assert.equal(log[0].response_status, 200);
  assert.equal(log[0].last_error, null);
  const all = hits(p);
  assert.equal(all.length, 4, 'three failures and one success');
  assert.equal(new Set(all.map((h) => h.headers['x-crm-delivery'])).size, 1, 'one delivery id throughout');
  assert.equal(new Set(all.map((h) => h.body)).size, 1, 'the same body each time');
  // nothing more arrives once it succeeded
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(hits(p).length, 4);
});

test('a failed attempt is logged with its status and error while the retry waits', async () => {
  const owner = await signup();
  const t = owner.access_token;
  const p = `/down-${unique()}`;
  plan.set(p, { statuses: [500], body: 'upstream is down' });
  const hook = await createHook(t, { name: '故障', url: `${base}${p}`, events: ['customer.created'] });
  await createRecord(t, 'customers', { name: `故障客户 ${unique()}` });
  const log = await waitFor('the first failed attempt', async () => {
    const d = await deliveries(t, hook.id);
    return d.length === 1 && d[0].attempts >= 1 && d;
  });
  assert.equal(log[0].status, 'queued', 'a retry is due');
  assert.equal(log[0].response_status, 500);
  assert.equal(log[0].response_body, 'upstream is down');
  assert.match(log[0].last_error, /500/);
  assert.equal(log[0].delivered_at, null);
  await call(t, 'DELETE', `/api/v1/webhooks/${hook.id}`); // no more retries to wait for
});

test('a DingTalk webhook gets the text message with timestamp and a valid sign in the URL', async () => {
  const owner = await signup();
  const t = owner.access_token;
  const secret = `SEC${unique()}dingtalk`;
  const p = `/robot/send-${unique()}`;
  plan.set(p, { statuses: [200], body: JSON.stringify({ errcode: 0, errmsg: 'ok' }) });
  const hook = await createHook(t, { name: '钉钉群', kind: 'dingtalk', url: `${base}${p}?access_token=tok123`, secret, events: ['customer.created'] });
  const name = `钉钉客户 ${unique()}`;
  await createRecord(t, 'customers', { name });

  const [hit] = await waitFor('the DingTalk call', () => hits(p).length > 0 && hits(p));
  assert.equal(hit.query.get('access_token'), 'tok123', 'the access token stays');
  const ms = hit.query.get('timestamp');
  assert.match(ms, /^\d{13}$/, 'timestamp in milliseconds');
  assert.ok(Math.abs(Number(ms) - Date.now()) < 120000, 'the timestamp is now');
  const sign = createHmac('sha256', secret).update(`${ms}\n${secret}`).digest('base64');
  assert.equal(hit.query.get('sign'), sign, 'sign is base64 HMAC-SHA256(secret, "<ms>\\n<secret>")');
  const raw = hit.path + hit.query.toString();
  assert.ok(!raw.includes(' '), 'the URL is encoded');
  assert.equal(hit.headers['x-crm-signature'], undefined, 'robots get no generic signature headers');
  const msg = JSON.parse(hit.body);
  assert.equal(msg.msgtype, 'text');
  assert.match(msg.text.content, /customer\.created/);
  assert.ok(msg.text.content.includes(name), 'the message names the customer');
  const log = await waitFor('the delivery to be recorded', async () => {
    const d = await deliveries(t, hook.id);
    return d.length === 1 && d[0].status === 'done' && d;
  });
  assert.equal(log[0].response_status, 200);
});

test('a robot that answers HTTP 200 with errcode ≠ 0 is a failed attempt', async () => {
  const owner = await signup();
  const t = owner.access_token;
  const p = `/robot/bad-${unique()}`;
  plan.set(p, { statuses: [200], body: JSON.stringify({ errcode: 310000, errmsg: 'sign not match' }) });
  const hook = await createHook(t, { name: '签名错误', kind: 'dingtalk', url: `${base}${p}`, secret: 'wrong-secret-1', events: ['customer.created'] });
  await createRecord(t, 'customers', { name: `签名错误 ${unique()}` });
  const log = await waitFor('the failed attempt', async () => {
    const d = await deliveries(t, hook.id);
    return d.length === 1 && d[0].attempts >= 1 && d;
  });
  assert.equal(log[0].status, 'queued', 'it will be retried');
  assert.match(log[0].last_error, /errcode 310000/);
  assert.match(log[0].response_body, /sign not match/);
  assert.equal(log[0].delivered_at, null);
  await call(t, 'DELETE', `/api/v1/webhooks/${hook.id}`);
});

test('a WeCom webhook gets the text message as its body', async () => {
  const owner = await signup();
  const t = owner.access_token;
  const p = `/cgi-bin/webhook/send-${unique()}`;
  plan.set(p, { statuses: [200], body: JSON.stringify({ errcode: 0, errmsg: 'ok' }) });
  const hook = await createHook(t, { name: '企业微信群', kind: 'wecom', url: `${base}${p}?key=k-1`, events: ['customer.created'] });
  const name = `企微客户 ${unique()}`;
  await createRecord(t, 'customers', { name });
  const [hit] = await waitFor('the WeCom call', () => hits(p).length > 0 && hits(p));
  assert.equal(hit.query.get('key'), 'k-1');
  assert.equal(hit.query.get('sign'), null, 'no DingTalk signature');
  const msg = JSON.parse(hit.body);
  assert.equal(msg.msgtype, 'text');
  assert.ok(msg.text.content.includes(name));
  await waitFor('the delivery to be done', async () => (await deliveries(t, hook.id))[0]?.status === 'done');
});

test('events: ["lead.*"] gets lead events and no customer events', async () => {
  const owner = await signup();
  const t = owner.access_token;
  const leads = `/leads-${unique()}`;
  const customers = `/customers-${unique()}`;
  const leadHook = await createHook(t, { name: '线索', url: `${base}${leads}`, events: ['lead.*'] });
  const customerHook = await createHook(t, { name: '客户', url: `${base}${customers}`, events: ['customer.created'] });
  await createRecord(t, 'customers', { name: `客户 ${unique()}` });
  await createRecord(t, 'leads', { name: `线索 ${unique()}` });

  const events = (p) => hits(p).map((h) => h.headers['x-crm-event']);
  await waitFor('the lead and the customer deliveries', () => events(leads).includes('lead.created') && hits(customers).length > 0);
  // the starter rules may update the new lead (assignment, score): lead.updated is welcome too
  assert.ok(events(leads).every((e) => e.startsWith('lead.')), `only lead events: ${events(leads)}`);
  assert.deepEqual(events(customers), ['customer.created']);
  const logged = await deliveries(t, leadHook.id);
  assert.ok(logged.length > 0 && logged.every((d) => d.event.startsWith('lead.')), 'only lead events are queued for the lead webhook');
  assert.ok((await deliveries(t, customerHook.id)).every((d) => d.event === 'customer.created'));
});

test('a disabled webhook gets nothing', async () => {
  const owner = await signup();
  const t = owner.access_token;
  const off = `/off-${unique()}`;
  const on = `/on-${unique()}`;
  const hook = await createHook(t, { name: '停用', url: `${base}${off}`, enabled: false });
  await createHook(t, { name: '启用', url: `${base}${on}`, events: ['customer.created'] });
  await createRecord(t, 'customers', { name: `客户 ${unique()}` });
  await waitFor('the enabled webhook', () => hits(on).length > 0);
  assert.equal(hits(off).length, 0);
  assert.deepEqual(await deliveries(t, hook.id), []);
});

/* ---------- e-mail ---------- */

// The messages in the sink's folder: {file, envelopeTo, headers, body}.
function mails() {
  let files = [];
  try {
    files = readdirSync(MAIL_DIR).filter((f) => f.endsWith('.eml'));
  } catch {
    return [];
  }
  return files.map((file) => {
    const text = readFileSync(path.join(MAIL_DIR, file), 'latin1');
    const [head, ...rest] = text.split('\r\n\r\n');
    const headers = {};
    for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    return { file, headers, body: rest.join('\r\n\r\n') };
  });
}

// RFC 2047 encoded-words (B and Q) of a header, decoded as UTF-8.
function decodeHeader(v) {
  return v.replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?)/g, '$1').replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, cs, enc, text) => {
    assert.match(cs, /^utf-8$/i);
    if (enc.toUpperCase() === 'B') return Buffer.from(text, 'base64').toString('utf8');
    return Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (m, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  });
}

test('an e-mail rule sends the owner a message that lands in the SMTP sink with the subject decoded', async () => {
  const owner = await signup();
  const t = owner.access_token;
  const tag = unique();
  const rule = expectStatus(await call(t, 'POST', '/api/v1/rules', {
    name: '新客户邮件',
    object: 'customers',
    trigger: { type: 'created' },
    actions: [{ type: 'email', to: 'owner', subject: '新客户：{{name}}', body: '客户 {{name}} 已创建，请及时跟进。' }],
  }), 201);
  assert.ok(rule.id);
  const name = `阿里巴巴 ${tag}`;
  await createRecord(t, 'customers', { name });

  const mail = await waitFor(`an e-mail to ${owner.user.email} in ${MAIL_DIR}`,
    () => mails().find((m) => (m.headers['x-envelope-to'] || '').includes(`<${owner.user.email}>`)), 30);
  assert.equal(decodeHeader(mail.headers.subject), `新客户：${name}`);
  assert.match(mail.headers.to, new RegExp(`<${owner.user.email.replace(/[.+]/g, '\\$&')}>`));
  assert.match(mail.headers.from, /<[^<>@\s]+@[^<>@\s]+>$/);
  assert.equal(decodeHeader(mail.headers.from.replace(/\s*<[^>]*>$/, '')), owner.tenant.name, 'From names the workspace');
  assert.match(mail.headers['content-type'], /^text\/plain; charset=UTF-8$/i);
  assert.equal(mail.headers['content-transfer-encoding'], 'base64');
  assert.equal(mail.headers['mime-version'], '1.0');
  assert.match(mail.headers['message-id'], /^<[^<>\s]+@[^<>\s]+>$/);
  assert.ok(!Number.isNaN(Date.parse(mail.headers.date)), 'a Date header');
  assert.equal(Buffer.from(mail.body.replace(/\s+/g, ''), 'base64').toString('utf8'), `客户 ${name} 已创建，请及时跟进。`);
  const lines = readFileSync(path.join(MAIL_DIR, mail.file), 'latin1').split('\r\n');
  assert.ok(lines.every((l) => l.length <= 998), 'no line is longer than RFC 5322 allows');
  // once: the rule fires once per record
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(mails().filter((m) => (m.headers['x-envelope-to'] || '').includes(`<${owner.user.email}>`)).length, 1);
});
