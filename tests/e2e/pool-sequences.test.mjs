// The public pool and nurture sequences in the browser: a sales member on a phone
// sees a released customer in the pool with who released it, claims it and opens
// it, and is refused the next claim over the role's limit in words; the customer
// page releases a customer and claims it back, and its timeline words both moves; a
// sequence made in the form (a placeholder picked into its subject) takes a lead from
// the lead's page, and its enrollment is stopped from the sequence's page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  apiCall, launch, login, newPage, shot, uniqueEmail, workspace as newWorkspace, PASSWORD, TEST_TIMEOUT,
} from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// Clicks the button of the open confirmation box.
const confirmBox = (page, name) => page.locator('.el-message-box').getByRole('button', { name }).click();

test('a sales member claims from the pool on a phone; over the limit the claim is refused in words', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await newWorkspace('云帆贸易有限公司', { prefix: 'pool', name: '陈静' });
  const salesEmail = uniqueEmail('pool-sales');
  const invite = await ws.api('POST', '/members/invite', { email: salesEmail, name: '王磊', role: 'sales' });
  await apiCall('POST', '/invitations/accept', { body: { token: invite.invite_token, password: PASSWORD } });
  await ws.api('PATCH', '/settings', { 'public_pool.claim_limits': { sales: 1 } });
  const first = await ws.api('POST', '/customers', { name: '杭州云帆科技有限公司' });
  const second = await ws.api('POST', '/customers', { name: '宁波海曙精密机械厂' });
  for (const c of [first, second]) await ws.api('POST', `/customers/${c.id}/release`);

  const { context, page } = await newPage(browser, { phone: true });
  try {
    await login(page, salesEmail);
    await page.goto('/app/pool');
    const firstRow = page.getByTestId(`pool-row-${first.id}`);
    await firstRow.waitFor();
    await firstRow.getByTestId('pool-entry').filter({ hasText: '陈静 退回于' }).waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling at 375px');
    await shot(page, 'pool-phone');

    await page.getByTestId(`claim-${first.id}`).click();
    await firstRow.waitFor({ state: 'detached' });
    const claimed = await ws.api('GET', `/customers/${first.id}`);
    assert.deepEqual([claimed.owner_id, claimed.in_pool], [invite.member.id, false]);

    await page.getByTestId(`claim-${second.id}`).click();
    await page.locator('.el-message--error', { hasText: '角色上限' }).waitFor();
    await page.getByTestId(`pool-row-${second.id}`).waitFor();
    assert.equal((await ws.api('GET', `/customers/${second.id}`)).in_pool, true);

    await page.getByTestId('open-claimed').click();
    await page.waitForURL(new RegExp(`/app/customers/${first.id}$`));
    await page.getByTestId('customer-name').filter({ hasText: first.name }).waitFor();
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('the customer page releases a customer to the pool and claims it back', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await newWorkspace('启航咨询有限公司', { prefix: 'pool', name: '赵敏' });
  const me = await ws.api('GET', '/me');
  const customer = await ws.api('POST', '/customers', { name: '苏州工业园区启航物流有限公司' });
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.goto(`/app/customers/${customer.id}`);
    await page.getByTestId('release-customer').click();
    await confirmBox(page, '退回公海');
    await page.getByTestId('in-pool').waitFor();
    assert.deepEqual(await ws.api('GET', `/customers/${customer.id}`).then((c) => [c.owner_id, c.in_pool]), [null, true]);
    await shot(page, 'pool-customer-released');

    await page.getByTestId('claim-customer').click();
    await page.getByTestId('in-pool').waitFor({ state: 'detached' });
    await page.getByTestId('release-customer').waitFor();
    const after = await ws.api('GET', `/customers/${customer.id}`);
    assert.deepEqual([after.owner_id, after.in_pool], [me.user.member_id, false]);
    // the timeline words both moves, not as plain field changes
    const timeline = page.getByTestId('timeline');
    await timeline.getByText('将客户退回了公海').first().waitFor();
    await timeline.getByText('从公海领取了客户').first().waitFor();
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('a sequence made in the form enrolls a lead from its page; the enrollment is stopped from the sequence', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await newWorkspace('青禾教育科技有限公司', { prefix: 'seq', name: '钱进' });
  const lead = await ws.api('POST', '/leads', { name: '家长 王先生', email: uniqueEmail('parent') });
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.goto('/app/sequences');
    await page.getByTestId('new-sequence').click();
    const dialog = page.getByTestId('sequence-dialog');
    await dialog.getByTestId('sequence-name').fill('试听课培育');
    await dialog.getByTestId('step-0').getByTestId('step-subject').fill('您好，');
    await dialog.getByTestId('placeholders').getByRole('button', { name: '{{name}}' }).click();
    await dialog.getByTestId('step-0').getByTestId('step-body').fill('欢迎了解我们的课程。');
    await dialog.getByTestId('add-step').click();
    await dialog.getByTestId('step-1').getByTestId('step-subject').fill('试听提醒');
    await dialog.getByTestId('step-1').getByTestId('step-body').fill('本周有试听课。');
    await shot(page, 'sequence-dialog');
    await dialog.getByTestId('sequence-save').click();
    await page.waitForURL(/\/app\/sequences\/\d+$/);
    const id = Number(page.url().match(/(\d+)$/)[1]);
    const saved = await ws.api('GET', `/sequences/${id}`);
    assert.deepEqual(saved.steps.map((s) => [s.day, s.subject]), [[0, '您好，{{name}}'], [3, '试听提醒']]);

    await page.goto(`/app/leads/${lead.id}`);
    await page.getByTestId('open-enroll').click();
    const enroll = page.getByTestId('enroll-dialog');
    await enroll.getByTestId('enroll-sequence').click();
    await page.getByTestId(`enroll-option-${id}`).click();
    await enroll.getByTestId('enroll-submit').click();
    await page.locator('.el-message--success', { hasText: '试听课培育' }).waitFor();

    await page.goto(`/app/sequences/${id}`);
    const row = page.getByTestId('enrollments').locator('li', { hasText: lead.name });
    await row.getByTestId('enrollment-status').filter({ hasText: '进行中' }).waitFor();
    await shot(page, 'sequence-enrollments');
    await row.getByTestId('stop-enrollment').click();
    await confirmBox(page, '停止');
    await row.getByTestId('enrollment-status').filter({ hasText: '已停止' }).waitFor();
    const [enrollment] = (await ws.api('GET', `/sequences/${id}/enrollments`)).data;
    assert.deepEqual([enrollment.record_id, enrollment.status, enrollment.stop_reason], [lead.id, 'stopped', 'manual']);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});
