// More of the record screens against the real API: bulk actions with a failure per
// record shown, the recycle bin, inline edits with If-Match (and a stale one
// reloaded), the column chooser kept across reloads, merging a duplicate, and the
// settings (pipeline stages, role rights, handover of a member's records).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { apiCall, launch, login, newPage, shot, uniqueEmail, workspace as newWorkspace, PASSWORD, TEST_TIMEOUT } from './lib.mjs';

let browser;
const workspace = (company) => newWorkspace(company, { prefix: 'adm', name: '周敏' });
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });


test('bulk tag shows the record that failed; bulk delete and restore from the recycle bin', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await workspace('合众供应链有限公司');
  const a = await ws.api('POST', '/customers', { name: '青岛海纳电器有限公司' });
  const b = await ws.api('POST', '/customers', { name: '大连远洋渔业有限公司' });
  const c = await ws.api('POST', '/customers', { name: '武汉光谷芯片有限公司' });
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.getByTestId('nav-customers').click();
    await page.getByTestId(`open-${c.id}`).waitFor();

    // b changes behind the list's back: its version in the list is stale.
    await ws.api('PATCH', `/customers/${b.id}`, { industry: '渔业' }, b.version);
    await page.locator('.el-table__header .el-checkbox').click();
    await page.getByTestId('bulk-bar').filter({ hasText: '已选 3 条' }).waitFor();
    await page.getByTestId('bulk-tag').click();
    await page.getByTestId('bulk-dialog').getByTestId('bulk-tag-input').click();
    await page.keyboard.type('重点客户');
    await page.keyboard.press('Enter');
    await page.getByTestId('bulk-dialog').getByTestId('bulk-apply').click();
    const result = page.getByTestId('bulk-result');
    await result.waitFor();
    assert.match(await result.textContent(), /成功 2 条，失败 1 条/);
    assert.match(await result.textContent(), /大连远洋渔业有限公司/);
    await shot(page, 'records-bulk-failure');
    await result.getByRole('button', { name: '完成' }).click();
    assert.deepEqual((await ws.api('GET', `/customers/${a.id}`)).tags, ['重点客户']);
    assert.deepEqual((await ws.api('GET', `/customers/${b.id}`)).tags, []);

    // Delete two, restore one.
    await page.getByTestId(`open-${a.id}`).locator('xpath=ancestor::tr').locator('.el-checkbox').click();
    await page.getByTestId(`open-${c.id}`).locator('xpath=ancestor::tr').locator('.el-checkbox').click();
    await page.getByTestId('bulk-delete').click();
    await page.locator('.el-message-box').getByRole('button', { name: '删除' }).click();
    await page.getByTestId(`open-${a.id}`).waitFor({ state: 'detached' });
    await page.getByTestId(`open-${c.id}`).waitFor({ state: 'detached' });
    assert.equal((await ws.api('GET', '/customers')).data.length, 1);

    await page.getByTestId('nav-settings-recycle').click();
    await page.getByTestId(`restore-customers-${c.id}`).click();
    await page.getByTestId(`restore-customers-${c.id}`).waitFor({ state: 'detached' });
    assert.equal((await ws.api('GET', `/customers/${c.id}`)).deleted_at, null);
    assert.equal((await ws.api('GET', '/customers')).data.length, 2);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('inline edit with If-Match; a stale edit is refused and the profile reloaded', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await workspace('恒信会计师事务所');
  const cust = await ws.api('POST', '/customers', { name: '南京紫金山科技有限公司' });
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.goto(`/app/customers/${cust.id}`);
    await page.getByTestId('profile').waitFor();

    await page.getByTestId('edit-level').click();
    await page.getByTestId('profile-level').locator('input').fill('A');
    await page.getByTestId('inline-save').click();
    await page.getByTestId('profile-level').locator('.fv', { hasText: 'A' }).waitFor();
    const now = await ws.api('GET', `/customers/${cust.id}`);
    assert.equal(now.level, 'A');

    // Someone else sets the industry; our next edit carries the old version.
    await ws.api('PATCH', `/customers/${cust.id}`, { industry: '半导体' }, now.version);
    await page.getByTestId('edit-region').click();
    await page.getByTestId('profile-region').locator('input').fill('江苏');
    await page.getByTestId('inline-save').click();
    await page.locator('.el-message--warning').waitFor();
    await page.getByTestId('profile-industry').filter({ hasText: '半导体' }).waitFor();
    assert.equal((await ws.api('GET', `/customers/${cust.id}`)).region, null);
    await shot(page, 'records-inline-conflict');

    // The column chooser is kept across a reload.
    await page.goto('/app/customers');
    await page.getByTestId('column-chooser').click();
    await page.getByTestId('col-industry').click();
    await page.locator('.el-table__header').getByText('行业').waitFor();
    await page.reload();
    await page.locator('.el-table__header').getByText('行业').waitFor();
    await page.getByText('半导体').waitFor();
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('merge a duplicate customer into this one', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await workspace('同舟律师事务所');
  const keep = await ws.api('POST', '/customers', { name: '西安秦川重工有限公司', phone: '029-88886666' });
  const dup = await ws.api('POST', '/customers', { name: '西安秦川重工', phone: '02988886666', force: true });
  await ws.api('POST', '/contacts', { name: '赵磊', customer_id: dup.id });
  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.goto(`/app/customers/${keep.id}`);
    await page.getByTestId('customer-more').click();
    await page.getByTestId('open-merge').click();
    const dialog = page.getByTestId('merge-dialog');
    await dialog.getByTestId(`dup-${dup.id}`).click();
    await shot(page, 'records-merge');
    await dialog.getByTestId('merge-submit').click();
    await page.locator('.el-message-box').getByRole('button', { name: '合并' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const { data: contacts } = await ws.api('GET', `/contacts?filter[customer_id]=${keep.id}`);
    assert.deepEqual(contacts.map((c) => c.name), ['赵磊']);
    assert.equal((await ws.api('GET', '/customers')).data.length, 1);
    await page.getByRole('tab', { name: '联系人' }).click();
    await page.getByText('赵磊').first().waitFor();
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('settings: a stage added to the pipeline, a right given to a role, a member handed over', { timeout: TEST_TIMEOUT }, async () => {
  const ws = await workspace('启明教育科技有限公司');
  const { data: pipelines } = await ws.api('GET', '/pipelines');
  const pipe = pipelines.find((p) => p.is_default);
  // A colleague who leaves, and one who takes over.
  const leaverEmail = uniqueEmail('leaver');
  const inv = await ws.api('POST', '/members/invite', { email: leaverEmail, name: '离职的孙丽', role: 'sales' });
  await apiCall('POST', '/invitations/accept', { body: { token: inv.invite_url.split('#')[1], name: '孙丽', password: PASSWORD } });
  const { data: members } = await ws.api('GET', '/members');
  const leaver = members.find((m) => m.email === leaverEmail);
  const me = members.find((m) => m.email === ws.email);
  await ws.api('POST', '/customers', { name: '孙丽的客户', owner_id: leaver.id });

  const { context, page } = await newPage(browser);
  try {
    await login(page, ws.email);
    await page.getByTestId('nav-settings-pipelines').click();
    await page.getByTestId(`edit-pipeline-${pipe.id}`).click();
    const dialog = page.getByTestId('pipeline-dialog');
    await dialog.getByTestId('add-stage').click();
    const n = pipe.stages.length;
    await dialog.getByTestId(`stage-row-${n}`).locator('input').first().fill('合同签署');
    await dialog.getByTestId('pipeline-save').click();
    await dialog.waitFor({ state: 'hidden' });
    const after = (await ws.api('GET', '/pipelines')).data.find((p) => p.id === pipe.id);
    assert.equal(after.stages.length, n + 1);
    assert.equal(after.stages.at(-1).name, '合同签署');
    await page.getByTestId('nav-opportunities').click();
    await page.locator(`[data-stage-name="合同签署"]`).waitFor();

    await page.getByTestId('nav-settings-roles').click();
    await page.getByTestId('role-sales').click();
    const hadDelete = (await ws.api('GET', '/roles')).data.find((r) => r.key === 'sales').permissions.includes('customers.delete');
    await page.getByTestId('perm-customers.delete').click();
    await page.getByTestId('role-save').click();
    // the pipeline's message may still be on screen: wait for the role's own
    await page.locator('.el-message--success', { hasText: '角色已保存' }).waitFor();
    const sales = (await ws.api('GET', '/roles')).data.find((r) => r.key === 'sales');
    assert.equal(sales.permissions.includes('customers.delete'), !hadDelete);
    await shot(page, 'records-roles');

    await page.getByTestId('nav-members').click();
    await page.getByTestId(`actions-${leaverEmail}`).click();
    await page.locator('.el-dropdown-menu__item:visible', { hasText: '移交数据' }).click();
    const ho = page.getByTestId('handover-dialog');
    await ho.getByTestId('handover-to').click();
    await page.locator('.el-select-dropdown__item:visible', { hasText: ws.email }).click();
    await ho.getByTestId('handover-submit').click();
    await ho.getByText('数据已移交').waitFor();
    const { data: custs } = await ws.api('GET', '/customers');
    assert.equal(custs[0].owner_id, me.id);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});
