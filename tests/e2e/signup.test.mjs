// Sign-up through the landing page: a new company lands in its own workspace; the
// slug check says when an address is taken; a reload keeps the user signed in; an
// expired access token is refreshed without the user noticing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPage, signUp, shot, unique, uniqueEmail, TEST_TIMEOUT } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const company = `星河科技有限公司 ${unique('t').slice(-6)}`;
const slug = unique('acme');
const email = uniqueEmail('owner');

test('a new company signs up on the landing page and lands in its workspace', { timeout: TEST_TIMEOUT }, async () => {
  const { context, page } = await newPage(browser);
  try {
    await page.goto('/');
    await shot(page, 'landing-zh');
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    await signUp(page, { company, slug, name: '张三', email, screenshot: 'signup-filled' });

    await page.getByTestId('home-company').waitFor();
    assert.equal((await page.getByTestId('home-company').textContent()).trim(), company);
    assert.match(await page.getByTestId('side-workspace').textContent(), new RegExp(slug));
    assert.match(await page.getByTestId('welcome').textContent(), /张三/);
    assert.equal((await page.getByTestId('home-role').textContent()).trim(), '所有者');
    await shot(page, 'home-owner');

    // The access token lives in memory only: a reload uses the refresh token.
    await page.reload();
    await page.getByTestId('home-company').waitFor();
    assert.equal((await page.getByTestId('home-company').textContent()).trim(), company);
    assert.deepEqual(page.errors, [], 'no page errors and no CSP violations');
  } finally {
    await context.close();
  }
});

test('the workspace address check reports a taken slug', { timeout: TEST_TIMEOUT }, async () => {
  const { context, page } = await newPage(browser);
  try {
    await page.goto('/');
    await page.getByTestId('signup-slug').fill(slug);
    await page.getByText('该地址已被占用，请换一个。').waitFor();
    await page.getByTestId('signup-slug').fill('Bad_Slug');
    await page.getByText(/只能使用小写字母、数字和连字符/).first().waitFor();
    await page.getByTestId('signup-slug').fill(unique('free'));
    await page.getByTestId('slug-available').waitFor();
  } finally {
    await context.close();
  }
});

test('an expired access token is refreshed and the call retried unnoticed', { timeout: TEST_TIMEOUT }, async () => {
  const { context, page } = await newPage(browser);
  try {
    await page.goto('/login');
    await page.getByTestId('login-email').fill(email);
    await page.getByTestId('login-password').fill('correct-horse-42');
    await page.getByTestId('login-submit').click();
    await page.getByTestId('home-company').waitFor();

    // The next /me answers 401 token_expired once, as the API does after 15 minutes.
    let expiredOnce = false;
    let refreshed = 0;
    await context.route('**/api/v1/me', async (route) => {
      if (expiredOnce) return route.continue();
      expiredOnce = true;
      await route.fulfill({ status: 401, contentType: 'application/json', body: '{"error":{"code":"token_expired","message":"token expired"}}' });
    });
    page.on('request', (r) => { if (r.url().endsWith('/api/v1/auth/refresh')) refreshed++; });
    // Drop the loaded /me by reloading the page: the refresh at start-up and the retry.
    await page.reload();
    await page.getByTestId('home-company').waitFor();
    assert.ok(expiredOnce, 'the 401 was served');
    assert.ok(refreshed >= 2, `refreshed at start-up and after the 401 (saw ${refreshed})`);
    assert.match(page.url(), /\/app$/);
  } finally {
    await context.close();
  }
});

test('the user menu lists the sessions, signs one out and changes the password', { timeout: TEST_TIMEOUT }, async () => {
  // Two sessions of the owner: this browser and another one.
  const other = await newPage(browser);
  const { context, page } = await newPage(browser);
  try {
    for (const p of [other.page, page]) {
      await p.goto('/login');
      await p.getByTestId('login-email').fill(email);
      await p.getByTestId('login-password').fill('correct-horse-42');
      await p.getByTestId('login-submit').click();
      await p.getByTestId('home-company').waitFor();
    }
    await page.getByTestId('user-menu').click();
    await page.getByTestId('menu-sessions').click();
    const list = page.getByTestId('sessions-list');
    await list.waitFor();
    const before = await list.locator('li').count();
    assert.ok(before >= 2, `at least two sessions (saw ${before})`);
    assert.equal(await list.getByText('当前设备').count(), 1);
    await shot(page, 'sessions');
    await list.locator('li').filter({ hasNotText: '当前设备' }).first().getByRole('button', { name: '退出该设备' }).click();
    await page.locator('.el-message-box').getByRole('button', { name: '退出该设备' }).click();
    await page.getByText('该设备已退出登录').waitFor();
    assert.equal(await list.locator('li').count(), before - 1);
    await page.keyboard.press('Escape');

    await page.getByTestId('user-menu').click();
    await page.getByTestId('menu-password').click();
    const dialog = page.locator('.el-dialog:visible');
    await dialog.getByLabel('当前密码').fill('not-my-password');
    await dialog.getByLabel('新密码', { exact: true }).fill('brand-new-pass-42');
    await dialog.getByLabel('确认新密码').fill('brand-new-pass-42');
    await dialog.getByRole('button', { name: '保存' }).click();
    await dialog.getByText('当前密码不正确').waitFor();
    await dialog.getByLabel('当前密码').fill('correct-horse-42');
    await dialog.getByRole('button', { name: '保存' }).click();
    await page.getByText('密码已修改').waitFor();
    // This session keeps working after the change.
    await page.reload();
    await page.getByTestId('home-company').waitFor();
  } finally {
    await other.context.close();
    await context.close();
  }
});
