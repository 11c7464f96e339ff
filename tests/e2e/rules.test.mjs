// Automation rules in the browser: the starter rules listed in Chinese, one turned
// off by its switch and a stale switch answered by a reload; a rule made through the
// form saved as the API takes it, and its run on a matching customer shown in the run
// log; a bad rule's 422 named part by part in the user's language, on a phone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, launch, login, newPage, shot, workspace as newWorkspace, TEST_TIMEOUT } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// Picks the option of the open Element Plus select whose text is exactly `text`.
async function pick(page, text) {
  await page.locator('.el-select-dropdown__item:visible').filter({ hasText: new RegExp(`^\\s*${text}\\s*$`) }).first().click();
}


test('the starter rules are listed in Chinese; a switch turns one off, a stale one reloads', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await newWorkspace('云帆物流有限公司', { prefix: 'rules' });
  const starters = (await ws.api('GET', '/rules')).data;
  const quiet = starters.find((r) => r.key === 'follow_up_3_days');
  const scoring = starters.find((r) => r.key === 'lead_score_contact');
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.goto('/app/settings/rules');
    const item = page.getByTestId(`rule-${quiet.id}`);
    await item.getByText('客户 3 天未跟进提醒负责人').waitFor();
    await item.getByText('连续 3 天未跟进').waitFor();
    await item.getByText('通知负责人').waitFor();
    assert.equal(await page.getByTestId('rules-customers').locator('article').count(), 2);
    await shot(page, 'rules-list');

    await page.getByTestId(`rule-switch-${quiet.id}`).click();
    await eventually('the rule to be off', async () => (await ws.api('GET', `/rules/${quiet.id}`)).enabled === false);

    // someone renames a rule meanwhile: its switch is refused (412) and the list reloads
    await ws.api('PATCH', `/rules/${scoring.id}`, { name: '资料完整的线索加 10 分', version: scoring.version });
    await page.getByTestId(`rule-switch-${scoring.id}`).click();
    await page.getByText('该记录刚被他人修改，已重新加载').waitFor();
    await page.getByTestId(`rule-${scoring.id}`).getByText('资料完整的线索加 10 分').waitFor();
    assert.equal((await ws.api('GET', `/rules/${scoring.id}`)).enabled, false);
  } finally {
    await context.close();
  }
});

test('a rule made through the form is saved as written and its run shows in the log', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await newWorkspace('星河纳米材料有限公司', { prefix: 'rules' });
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.goto('/app/settings/rules');
    await page.getByTestId('add-rule').click();
    const dialog = page.getByTestId('rule-dialog');
    await dialog.getByTestId('rule-name').fill('纳米客户提醒');
    await dialog.getByTestId('add-condition').click();
    await dialog.getByTestId('condition-field').click();
    await pick(page, '客户名称');
    await dialog.getByTestId('condition-op').click();
    await pick(page, '包含');
    await dialog.getByTestId('field-name').fill('纳米');
    await dialog.getByTestId('action-title').fill('纳米客户：{{name}}');
    await shot(page, 'rules-form');
    await dialog.getByTestId('rule-save').click();
    await dialog.waitFor({ state: 'hidden' });

    const rule = (await ws.api('GET', '/rules')).data.find((r) => r.name === '纳米客户提醒');
    assert.deepEqual(
      { trigger: rule.trigger, conditions: rule.conditions, actions: rule.actions, enabled: rule.enabled },
      {
        trigger: { type: 'created' },
        conditions: { all: [{ field: 'name', op: 'contains', value: '纳米' }] },
        actions: [{ type: 'notify', to: 'owner', title: '纳米客户：{{name}}' }],
        enabled: true,
      },
    );

    // events are handled in order: once the second customer's run is logged, the
    // first one (not matching) has been looked at too
    await ws.api('POST', '/customers', { name: '杭州丝绸有限公司' });
    const customer = await ws.api('POST', '/customers', { name: '苏州纳米科技有限公司' });
    await page.getByTestId(`rule-log-${rule.id}`).click();
    await page.waitForURL(new RegExp(`/app/settings/rules/${rule.id}$`));
    const rows = page.getByTestId('run-table').locator('.el-table__body tr');
    await eventually('the run in the log', async () => {
      await page.getByTestId('run-log-refresh').click();
      await page.waitForTimeout(300);
      return (await rows.count()) > 0;
    });
    assert.equal(await rows.count(), 1);
    const link = rows.getByTestId('run-record');
    await link.getByText(customer.name).waitFor();
    assert.equal(await link.getAttribute('href'), `/app/customers/${customer.id}`);
    await rows.locator('[data-testid="run-status"][data-status="done"]').first().waitFor();
    await rows.getByTestId('run-results').getByText('发送站内通知').waitFor();
    await rows.getByTestId('run-results').getByText('陈静').waitFor();
    await shot(page, 'rules-run-log');
  } finally {
    await context.close();
  }
});

test('on a phone, a bad rule shows the API\'s error part by part and is not saved', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await newWorkspace('青橙咨询有限公司', { prefix: 'rules' });
  const before = (await ws.api('GET', '/rules')).data.length;
  const { context, page } = await newPage(browser, { phone: true });
  try {
    await login(page, ws.email);
    await page.goto('/app/settings/rules');
    await page.getByTestId('add-rule').click();
    const dialog = page.getByTestId('rule-dialog');
    await dialog.getByTestId('rule-name').fill('缺少字段的规则');
    await dialog.getByTestId('trigger-type').click();
    await pick(page, '字段变化时');
    await dialog.getByTestId('rule-save').click(); // no field to watch, no notification title

    const alert = dialog.getByTestId('rule-error');
    await alert.waitFor();
    const text = await alert.innerText();
    assert.match(text, /请检查：/);
    assert.match(text, /触发方式 · 字段/);
    assert.match(text, /动作 1 · 标题/);
    await dialog.getByText('请选择该对象的一个字段').waitFor();
    await dialog.getByText('此项必填').waitFor();
    await shot(page, 'rules-error-phone', { fullPage: false });
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 375);
    assert.equal((await ws.api('GET', '/rules')).data.length, before);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});
