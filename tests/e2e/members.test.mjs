// Settings → Members: the owner invites a colleague, who accepts the link in another
// browser and lands in the workspace; the owner then sees them active, changes their
// role and disables them (with a confirmation).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPage, signUp, shot, unique, uniqueEmail, openMembers, inviteMember, BASE_URL, TEST_TIMEOUT } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('invite a member, accept the invitation, see them active', { timeout: TEST_TIMEOUT }, async () => {
  const company = '远航贸易有限公司';
  const owner = await newPage(browser);
  const memberEmail = uniqueEmail('li');
  try {
    await signUp(owner.page, { company, slug: unique('yh'), name: '王芳', email: uniqueEmail('owner') });
    await openMembers(owner.page);
    await owner.page.getByTestId('members-table').waitFor();
    await shot(owner.page, 'members-owner');

    const link = await inviteMember(owner.page, { email: memberEmail, name: '李雷', role: 'service' });
    assert.match(link, new RegExp(`^${BASE_URL.replace(/[.]/g, '\\.')}/invite#[^/#]+$`));
    await shot(owner.page, 'members-invite-link');
    await owner.page.getByRole('button', { name: '完成' }).click();
    await owner.page.locator(`[data-testid="status-${memberEmail}"]`).waitFor();
    assert.equal((await owner.page.getByTestId(`status-${memberEmail}`).textContent()).trim(), '已邀请');

    // The colleague opens the link in a browser of their own.
    const member = await newPage(browser);
    try {
      await member.page.goto(link);
      await member.page.getByTestId('invite-company').waitFor();
      assert.equal((await member.page.getByTestId('invite-company').textContent()).trim(), company);
      assert.equal((await member.page.getByTestId('invite-email').textContent()).trim(), memberEmail);
      assert.equal(await member.page.getByTestId('invite-name').inputValue(), '李雷');
      await shot(member.page, 'invite-accept');
      await member.page.getByTestId('invite-password').fill('member-pass-42');
      await member.page.getByTestId('invite-submit').click();
      await member.page.waitForURL(/\/app(\?|$)/);
      await member.page.getByTestId('home-company').waitFor();
      assert.equal((await member.page.getByTestId('home-company').textContent()).trim(), company);
      assert.equal((await member.page.getByTestId('home-role').textContent()).trim(), '客服');
      // A service member may read the members list but not invite.
      await openMembers(member.page);
      await member.page.getByTestId('members-table').waitFor();
      assert.equal(await member.page.getByTestId('open-invite').count(), 0);
      await shot(member.page, 'members-readonly');

      // The link works once.
      const again = await newPage(browser);
      await again.page.goto(link);
      await again.page.getByTestId('invite-invalid').waitFor();
      await again.context.close();
    } finally {
      await member.context.close();
    }

    // Back as the owner: the member is active.
    await owner.page.reload();
    const status = owner.page.getByTestId(`status-${memberEmail}`);
    await status.waitFor();
    assert.equal((await status.textContent()).trim(), '已激活');

    // Change the role to Sales manager.
    await owner.page.getByTestId(`actions-${memberEmail}`).click();
    await owner.page.locator('.el-dropdown-menu__item:visible', { hasText: '更改角色' }).click();
    const roleDialog = owner.page.locator('.el-dialog:visible');
    await roleDialog.locator('.el-select').click();
    await owner.page.locator('.el-select-dropdown__item:visible', { hasText: '销售经理' }).click();
    await roleDialog.getByRole('button', { name: '保存' }).click();
    await owner.page.getByText('已更新 李雷 的角色').waitFor();
    const row = owner.page.locator('.el-table__row', { has: owner.page.getByTestId(`member-${memberEmail}`) });
    await row.getByText('销售经理').waitFor();

    // Disable, with a confirmation first.
    await owner.page.getByTestId(`actions-${memberEmail}`).click();
    await owner.page.locator('.el-dropdown-menu__item:visible', { hasText: '停用' }).click();
    const box = owner.page.locator('.el-message-box');
    await box.waitFor();
    assert.match(await box.textContent(), /李雷/);
    await shot(owner.page, 'members-disable-confirm');
    await box.getByRole('button', { name: '停用' }).click();
    await owner.page.waitForFunction((e) => document.querySelector(`[data-testid="status-${e}"]`)?.textContent.trim() === '已停用', memberEmail);
    assert.deepEqual(owner.page.errors, []);
  } finally {
    await owner.context.close();
  }
});
