// The daily-work screens against the real record API (docs/RECORDS.md): a custom
// field added in Settings and filled on a new customer; a call logged on the 360°
// page and seen on the timeline; an opportunity dragged to another stage (and a
// stale drag answered by 412 without losing anything); a lead converted; a task
// done with one click; the global search; the duplicate warning.
// Each test has a workspace of its own, made through the API and signed in through
// the login page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, login, newPage, shot, workspace as newWorkspace, TEST_TIMEOUT } from './lib.mjs';

let browser;
const workspace = (company) => newWorkspace(company, { prefix: 'rec', name: '陈静' });
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });


// Picks an option of the open Element Plus select.
async function pick(page, text) {
  await page.locator('.el-select-dropdown__item:visible', { hasText: text }).first().click();
}

test('a custom field added in Settings is filled on a new customer', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await workspace('华东精密机械有限公司');
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.getByTestId('nav-settings-fields').click();
    await page.waitForURL(/\/app\/settings\/fields/);
    await page.getByTestId('field-row-name').waitFor();

    await page.getByTestId('add-field').click();
    const dialog = page.getByTestId('field-dialog');
    await dialog.getByTestId('field-label').fill('区域编码');
    await dialog.getByTestId('field-key').fill('region_code');
    await dialog.getByTestId('field-type').click();
    await page.getByTestId('type-select').click();
    await dialog.getByTestId('field-options').fill('华东\n华北\n华南');
    await shot(page, 'records-field-add');
    await dialog.getByTestId('field-save').click();
    await page.getByTestId('field-row-region_code').waitFor();
    assert.equal((await page.getByTestId('field-row-region_code').textContent()).trim(), '区域编码');

    // The customer form has the field at once.
    await page.getByTestId('nav-customers').click();
    await page.waitForURL(/\/app\/customers$/);
    await page.getByTestId('new-customers').click();
    const create = page.getByTestId('create-customers');
    await create.getByTestId('field-name').fill('苏州精工科技有限公司');
    await create.getByTestId('field-phone').fill('0512-66668888');
    await create.getByTestId('field-region_code').click();
    await pick(page, '华东');
    await shot(page, 'records-customer-create');
    await create.getByTestId('create-save').click();
    await create.waitFor({ state: 'hidden' });

    const { data } = await ws.api('GET', '/customers');
    assert.equal(data.length, 1);
    assert.equal(data[0].name, '苏州精工科技有限公司');
    assert.deepEqual(data[0].custom, { region_code: '华东' });

    // And the 360° page shows it in the profile.
    await page.getByTestId(`open-${data[0].id}`).click();
    await page.waitForURL(new RegExp(`/app/customers/${data[0].id}$`));
    await page.getByTestId('profile-region_code').filter({ hasText: '华东' }).waitFor();
    await shot(page, 'records-customer-360');
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('a call logged on the 360° page shows on the timeline', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await workspace('星河贸易有限公司');
  const customer = await ws.api('POST', '/customers', { name: '杭州云帆网络科技有限公司', phone: '13800138000' });
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.goto(`/app/customers/${customer.id}`);
    await page.getByTestId('customer-name').filter({ hasText: '杭州云帆网络科技有限公司' }).waitFor();
    await page.getByTestId('timeline').waitFor();

    await page.getByTestId('log-call').click();
    const dialog = page.getByTestId('create-activities');
    await dialog.getByTestId('field-subject').fill('介绍新版报价');
    await dialog.getByTestId('field-body').fill('客户希望下周收到正式报价。');
    await dialog.getByTestId('create-save').click();
    await dialog.waitFor({ state: 'hidden' });

    const item = page.getByTestId('timeline-activity').filter({ hasText: '介绍新版报价' });
    await item.waitFor();
    assert.match(await item.textContent(), /电话/);
    await page.getByTestId('summary-last-activity').filter({ hasText: '介绍新版报价' }).waitFor();
    await shot(page, 'records-timeline-call');

    const { data } = await ws.api('GET', `/activities?filter[customer_id]=${customer.id}`);
    assert.equal(data.length, 1);
    assert.equal(data[0].kind, 'call');
    assert.equal(data[0].customer_id, customer.id);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('an opportunity dragged to another stage; a stale drag loses nothing', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await workspace('远景能源有限公司');
  const { data: pipelines } = await ws.api('GET', '/pipelines');
  const stages = pipelines.find((p) => p.is_default).stages;
  const customer = await ws.api('POST', '/customers', { name: '宁波港务集团' });
  const opp = await ws.api('POST', '/opportunities', { name: '码头调度系统', customer_id: customer.id, amount: '880000.00', stage_id: stages[0].id });
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.getByTestId('nav-opportunities').click();
    await page.waitForURL(/\/app\/opportunities/);
    const card = page.getByTestId(`opp-${opp.id}`);
    await page.getByTestId(`stage-${stages[0].id}`).getByTestId(`opp-${opp.id}`).waitFor();

    await card.dragTo(page.getByTestId(`stage-${stages[1].id}`));
    await page.getByTestId(`stage-${stages[1].id}`).getByTestId(`opp-${opp.id}`).waitFor();
    await page.waitForFunction(() => !document.querySelector('[aria-busy="true"][data-testid^="opp-"]'));
    let now = await ws.api('GET', `/opportunities/${opp.id}`);
    assert.equal(now.stage_id, stages[1].id);
    assert.equal(now.probability, stages[1].probability);
    await shot(page, 'records-kanban-moved');

    // Someone else renames it meanwhile: the next drag gets 412, says so, and the
    // card shows the opportunity as it now is (renamed, still in its stage).
    await ws.api('PATCH', `/opportunities/${opp.id}`, { name: '码头调度系统（二期）' }, now.version);
    await page.getByTestId(`opp-${opp.id}`).dragTo(page.getByTestId(`stage-${stages[2].id}`));
    await page.locator('.el-message--warning').filter({ hasText: '码头调度系统' }).waitFor();
    const back = page.getByTestId(`stage-${stages[1].id}`).getByTestId(`opp-${opp.id}`);
    await back.filter({ hasText: '码头调度系统（二期）' }).waitFor();
    now = await ws.api('GET', `/opportunities/${opp.id}`);
    assert.equal(now.stage_id, stages[1].id);
    assert.equal(now.name, '码头调度系统（二期）');
    await shot(page, 'records-kanban-conflict');

    // The table view totals the amounts per stage.
    await page.getByTestId('view-table').click();
    await page.getByTestId(`total-${stages[1].id}`).filter({ hasText: '880,000.00' }).waitFor();
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('a lead is converted into a customer with an opportunity', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await workspace('金桥咨询有限公司');
  const lead = await ws.api('POST', '/leads', { name: '刘洋', company: '成都天府软件园有限公司', phone: '13912345678', source: '官网' });
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.getByTestId('nav-leads').click();
    await page.waitForURL(/\/app\/leads$/);
    await page.getByTestId(`convert-${lead.id}`).click();
    const dialog = page.getByTestId('convert-dialog');
    await dialog.getByTestId('convert-with-opportunity').click();
    await dialog.getByTestId('convert-opp-name').fill('园区 CRM 项目');
    await shot(page, 'records-lead-convert');
    await dialog.getByTestId('convert-submit').click();
    await dialog.getByTestId('convert-result').waitFor();

    const after = await ws.api('GET', `/leads/${lead.id}`);
    assert.equal(after.status, 'converted');
    const { data: opps } = await ws.api('GET', '/opportunities');
    assert.equal(opps.length, 1);
    assert.equal(opps[0].name, '园区 CRM 项目');

    await dialog.getByTestId('converted-customer').click();
    await page.waitForURL(/\/app\/customers\/\d+$/);
    await page.getByTestId('customer-name').filter({ hasText: '成都天府软件园有限公司' }).waitFor();
    // The new customer's contact came from the lead.
    await page.getByRole('tab', { name: '联系人' }).click();
    await page.getByText('刘洋').first().waitFor();
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('my day: an overdue task done with one click', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await workspace('朝阳物流有限公司');
  const me = await ws.api('GET', '/me');
  const memberId = me.user.member_id;
  const hour = 3600_000;
  const overdue = await ws.api('POST', '/tasks', { subject: '回访上周的询价', due_at: new Date(Date.now() - 30 * hour).toISOString(), assignee_id: memberId });
  const later = await ws.api('POST', '/tasks', { subject: '准备季度复盘', due_at: new Date(Date.now() + 72 * hour).toISOString(), assignee_id: memberId });
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.getByTestId('nav-tasks').click();
    await page.waitForURL(/\/app\/tasks$/);
    await page.getByTestId('tasks-overdue').getByTestId(`task-${overdue.id}`).waitFor();
    await page.getByTestId('tasks-upcoming').getByTestId(`task-${later.id}`).waitFor();
    await shot(page, 'records-my-day');

    await page.getByTestId(`done-${overdue.id}`).click();
    await page.getByTestId(`task-${overdue.id}`).waitFor({ state: 'detached' });
    const done = await ws.api('GET', `/tasks/${overdue.id}`);
    assert.equal(done.status, 'done');
    assert.equal((await ws.api('GET', `/tasks/${later.id}`)).status, 'open');
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('global search opens a record; a duplicate customer is flagged', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await workspace('蓝海科技有限公司');
  const existing = await ws.api('POST', '/customers', { name: '深圳前海微众数据有限公司', phone: '13600001234' });
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.getByTestId('global-search').fill('前海微众');
    const hit = page.getByTestId(`search-customers-${existing.id}`);
    await hit.waitFor();
    await shot(page, 'records-search', { fullPage: false });
    await page.getByTestId('global-search').press('Enter');
    await page.waitForURL(new RegExp(`/app/customers/${existing.id}$`));

    await page.getByTestId('nav-customers').click();
    await page.getByTestId('new-customers').click();
    const create = page.getByTestId('create-customers');
    await create.getByTestId('field-name').fill('深圳前海微众数据有限公司');
    await create.getByTestId('create-save').click();
    await create.getByTestId('duplicate-alert').waitFor();
    // the link shows #id until the existing customer's name has loaded
    await create.getByTestId('duplicate-link').filter({ hasText: '深圳前海微众数据有限公司' }).waitFor();
    await shot(page, 'records-duplicate');
    await create.getByTestId('create-anyway').click();
    await create.waitFor({ state: 'hidden' });
    const { data } = await ws.api('GET', '/customers');
    assert.equal(data.length, 2);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('on a phone: the customer list as cards and a card moved by its menu', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await workspace('海鸥文化传媒有限公司');
  const { data: pipelines } = await ws.api('GET', '/pipelines');
  const stages = pipelines.find((p) => p.is_default).stages;
  const customer = await ws.api('POST', '/customers', { name: '厦门鹭岛旅游有限公司', level: 'A', tags: ['重点'] });
  const opp = await ws.api('POST', '/opportunities', { name: '年度宣传片', customer_id: customer.id, amount: '66000', stage_id: stages[0].id });
  const { context, page } = await newPage(browser, { phone: true });
  const overflowX = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  try {
    await login(page, ws.email);
    await page.getByTestId('open-nav').click();
    await page.getByTestId('nav-drawer').getByTestId('nav-customers').click();
    await page.waitForURL(/\/app\/customers$/);
    await page.getByTestId('customers-list').getByTestId(`row-${customer.id}`).waitFor();
    assert.ok(await overflowX() <= 0, 'the customer list fits the phone width');
    await shot(page, 'records-phone-customers');

    await page.goto(`/app/customers/${customer.id}`);
    await page.getByTestId('customer-name').waitFor();
    assert.ok(await overflowX() <= 0, 'the 360° page fits the phone width');

    await page.goto('/app/opportunities');
    await page.getByTestId(`move-${opp.id}`).click();
    await page.locator('.el-dropdown-menu__item:visible', { hasText: stages[2].name }).click();
    await page.getByTestId(`stage-${stages[2].id}`).getByTestId(`opp-${opp.id}`).waitFor();
    await page.waitForFunction(() => !document.querySelector('[aria-busy="true"][data-testid^="opp-"]'));
    assert.equal((await ws.api('GET', `/opportunities/${opp.id}`)).stage_id, stages[2].id);
    assert.ok(await overflowX() <= 0, 'the board scrolls inside itself');
    await shot(page, 'records-phone-kanban');
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});
