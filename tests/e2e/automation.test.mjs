// Automation in the browser: a rule's notification shows on the bell with its
// unread count, opening it marks it read and leads to the record; the
// unsubscribe link of a nurture e-mail works without a login, and a tampered
// one says it is not valid.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, launch, login, newPage, sentMail, shot, workspace as newWorkspace, TEST_TIMEOUT } from './lib.mjs';

// The text of the message the stack's SMTP sink received for `to` (its body is
// base64, as crm-worker sends it), or null.
function mailTo(to) {
  const raw = sentMail(to);
  if (!raw) return null;
  const [, body = ''] = raw.split(/\r?\n\r?\n/);
  return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
}

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });


test('the bell shows a rule\'s notification; opening it marks it read and opens the record', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await newWorkspace('启明星软件有限公司', { prefix: 'auto', name: '孙悦' });
  await ws.api('POST', '/rules', { name: '新客户提醒', object: 'customers', trigger: { type: 'created' },
    actions: [{ type: 'notify', to: 'owner', title: '新客户：{{name}}' }] });
  const c = await ws.api('POST', '/customers', { name: '苏州工业园区纳米科技有限公司' });
  await eventually('the notification', async () => (await ws.api('GET', '/notifications/unread_count')).unread === 1);
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    const badge = page.getByTestId('notifications-unread').locator('sup');
    await badge.filter({ hasText: '1' }).waitFor();
    await page.getByTestId('notifications').click();
    const item = page.getByTestId('notification').filter({ hasText: `新客户：${c.name}` });
    await item.waitFor();
    await shot(page, 'automation-notifications');
    await item.click();
    await page.waitForURL(new RegExp(`/app/customers/${c.id}$`));
    await badge.waitFor({ state: 'hidden' });
    assert.equal((await ws.api('GET', '/notifications/unread_count')).unread, 0);
  } finally {
    await context.close();
  }
});

test('a nurture e-mail\'s unsubscribe link works without a login; a tampered one does not', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await newWorkspace('青禾教育科技有限公司', { prefix: 'unsub', name: '钱进' });
  const seq = await ws.api('POST', '/sequences', { name: '试听课培育', steps: [{ day: 0, subject: '欢迎', body: '您好' }, { day: 7, subject: '试听提醒', body: '本周试听课' }] });
  const lead = await ws.api('POST', '/leads', { name: '家长 王先生', email: `parent-${Date.now()}@example.com` });
  await ws.api('POST', `/sequences/${seq.id}/enrollments`, { object: 'leads', record_id: lead.id });
  const text = await eventually('the e-mail', () => mailTo(lead.email));
  const link = new URL(text.match(/https?:\/\/\S+\/unsubscribe\?\S+/)[0]);
  const { context, page } = await newPage(browser);
  try {
    const tampered = new URLSearchParams(link.search);
    tampered.set('s', '0'.repeat(64));
    await page.goto(`/unsubscribe?${tampered}`);
    await page.locator('[data-testid="unsubscribe-state"][data-state="invalid"]').waitFor();
    assert.equal((await ws.api('GET', `/sequences/${seq.id}/enrollments`)).data[0].status, 'active');
    await page.goto(`${link.pathname}${link.search}`);
    await page.locator('[data-testid="unsubscribe-state"][data-state="done"]').waitFor();
    await shot(page, 'automation-unsubscribed');
    const after = (await ws.api('GET', `/sequences/${seq.id}/enrollments`)).data[0];
    assert.deepEqual([after.status, after.stop_reason], ['stopped', 'unsubscribed']);
  } finally {
    await context.close();
  }
});
