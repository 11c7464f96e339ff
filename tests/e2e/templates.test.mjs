// E-mail templates in the browser: a template written on its screen (a placeholder
// picked into its subject) is chosen for a sequence's step in the sequence form, which
// the API stores as {day, template}; a lead enrolled gets the template's subject filled
// with its name (the stack's SMTP sink, as in automation.test.mjs). A template that a
// rule sends is refused deletion with the rule's name, and stays; the rule's form shows
// it chosen and names an e-mail action's missing template as that action's part.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, launch, login, newPage, sentMail, shot, uniqueEmail, workspace as newWorkspace, TEST_TIMEOUT } from './lib.mjs';

// The decoded Subject of the message the SMTP sink received for `to`, or null. The
// worker writes it as RFC 2047 base64 words, folded over several lines.
function subjectTo(to) {
  const raw = sentMail(to);
  if (!raw) return null;
  const header = raw.match(/^Subject: (.*(?:\r?\n[ \t].*)*)/m)[1];
  const words = [...header.matchAll(/=\?UTF-8\?B\?([^?]*)\?=/gi)].map((m) => Buffer.from(m[1], 'base64'));
  return Buffer.concat(words).toString('utf8');
}


let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a template made on its screen is sent by a sequence step chosen in the form', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await newWorkspace('青禾教育科技有限公司', { prefix: 'tpl', name: '钱进' });
  const lead = await ws.api('POST', '/leads', { name: '家长 王先生', email: uniqueEmail('parent') });
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.goto('/app/settings/email-templates');
    await page.getByTestId('templates-empty').waitFor();
    await page.getByTestId('add-template').click();
    const dialog = page.getByTestId('template-dialog');
    await dialog.getByTestId('template-name').fill('课程介绍');
    await dialog.getByTestId('template-subject').fill('课程介绍：');
    await dialog.getByTestId('placeholders').getByRole('button', { name: '{{name}}' }).click();
    await dialog.getByTestId('template-body').fill('您好，欢迎了解我们的课程。');
    await shot(page, 'template-dialog');
    await dialog.getByTestId('template-save').click();
    await dialog.waitFor({ state: 'hidden' });
    const [template] = (await ws.api('GET', '/email_templates')).data;
    assert.deepEqual([template.name, template.subject], ['课程介绍', '课程介绍：{{name}}']);
    await page.getByTestId(`template-${template.id}`).getByText('课程介绍：{{name}}').waitFor();

    await page.goto('/app/sequences');
    await page.getByTestId('new-sequence').click();
    const form = page.getByTestId('sequence-dialog');
    await form.getByTestId('sequence-name').fill('试听课培育');
    const step = form.getByTestId('step-0');
    await step.getByTestId('email-source-template').click();
    await step.getByTestId('email-template').click();
    await page.getByTestId(`email-template-${template.id}`).click();
    await shot(page, 'template-sequence-step');
    await form.getByTestId('sequence-save').click();
    await page.waitForURL(/\/app\/sequences\/\d+$/);
    const id = Number(page.url().match(/(\d+)$/)[1]);
    assert.deepEqual((await ws.api('GET', `/sequences/${id}`)).steps, [{ day: 0, template: template.id }]);
    await page.getByTestId('step-template').filter({ hasText: '课程介绍' }).waitFor();

    await ws.api('POST', `/sequences/${id}/enrollments`, { object: 'leads', record_id: lead.id });
    assert.equal(await eventually('the e-mail', () => subjectTo(lead.email)), `课程介绍：${lead.name}`);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('a template in use is refused deletion with its user named, and stays', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await newWorkspace('星河纳米材料有限公司', { prefix: 'tpl', name: '陈静' });
  const template = await ws.api('POST', '/email_templates', { name: '新客户欢迎信', subject: '欢迎，{{name}}', body: '感谢选择我们。' });
  const rule = await ws.api('POST', '/rules', { name: '新客户发欢迎信', object: 'customers', trigger: { type: 'created' },
    actions: [{ type: 'email', to: 'owner', template: template.id }] });
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.goto(`/app/settings/email-templates/${template.id}`);
    await page.getByTestId('preview-subject').locator('mark', { hasText: '{{name}}' }).waitFor();
    await page.getByTestId(`template-delete-${template.id}`).click();
    await page.locator('.el-message-box').getByRole('button', { name: '删除' }).click();
    const refusal = page.locator('.el-message-box', { hasText: '模板正在使用中' });
    await refusal.getByText('“新客户发欢迎信”仍在发送此模板，无法删除').waitFor();
    await shot(page, 'template-in-use', { fullPage: false });
    await refusal.getByRole('button', { name: '确定' }).click();
    await refusal.waitFor({ state: 'hidden' });
    assert.equal((await ws.api('GET', `/email_templates/${template.id}`)).id, template.id);
    assert.match(page.url(), new RegExp(`/app/settings/email-templates/${template.id}$`));

    // the rule in words names the template it sends and its form shows it chosen
    await page.goto('/app/settings/rules');
    await page.getByText('用模板「新客户欢迎信」发邮件给负责人').waitFor();
    await page.getByTestId(`rule-edit-${rule.id}`).click();
    const dialog = page.getByTestId('rule-dialog');
    await dialog.getByTestId('action-0').getByTestId('email-template').getByText('新客户欢迎信').waitFor();
    await dialog.getByRole('button', { name: '取消' }).click();
    await dialog.waitFor({ state: 'hidden' });

    // an e-mail action set to a template without one is refused at that action
    await page.getByTestId('add-rule').click();
    await dialog.getByTestId('rule-name').fill('未选模板的规则');
    const action = dialog.getByTestId('action-0');
    await action.getByTestId('action-type').click();
    await page.locator('[data-testid="action-type-email"]:visible').click();
    await action.getByTestId('email-source-template').click();
    await dialog.getByTestId('rule-save').click();
    await dialog.getByTestId('rule-error').getByText('动作 1 · 模板').waitFor();
    await action.getByText('取值无效').waitFor();
    await shot(page, 'template-rule-action', { fullPage: false });
    assert.ok(!(await ws.api('GET', '/rules')).data.some((r) => r.name === '未选模板的规则'));
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});
