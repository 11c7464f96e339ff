// Language: zh-CN by default, English from the user menu, remembered across a reload;
// API errors (a wrong password) are shown in the language of the interface.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPage, signUp, shot, unique, uniqueEmail, PASSWORD, TEST_TIMEOUT } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('switching to English changes the labels and survives a reload', { timeout: TEST_TIMEOUT }, async () => {
  const { context, page } = await newPage(browser);
  try {
    await signUp(page, { company: '青禾教育科技有限公司', slug: unique('qh'), name: '赵敏', email: uniqueEmail('zm') });
    assert.equal((await page.getByTestId('nav-home').textContent()).trim(), '首页');

    await page.getByTestId('user-menu').click();
    await page.getByTestId('menu-lang-en').click();
    await page.getByTestId('nav-home').filter({ hasText: 'Home' }).waitFor();
    assert.equal((await page.getByTestId('nav-members').textContent()).trim(), 'Members');
    assert.match(await page.getByTestId('welcome').textContent(), /^Welcome, 赵敏/);
    assert.equal((await page.getByTestId('home-role').textContent()).trim(), 'Owner');
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    await shot(page, 'home-en');

    await page.reload();
    await page.getByTestId('welcome').waitFor();
    assert.match(await page.getByTestId('welcome').textContent(), /^Welcome, /);
    assert.equal((await page.getByTestId('nav-members').textContent()).trim(), 'Members');
    assert.equal(await page.getByTestId('global-search').getAttribute('placeholder'), 'Search customers, contacts, deals…');

    // And back to Chinese.
    await page.getByTestId('user-menu').click();
    await page.getByTestId('menu-lang-zh-CN').click();
    await page.getByTestId('nav-members').filter({ hasText: '成员' }).waitFor();
  } finally {
    await context.close();
  }
});

test('a wrong password shows the error in the interface language', { timeout: TEST_TIMEOUT }, async () => {
  const { context, page } = await newPage(browser);
  try {
    const email = uniqueEmail('wrong');
    await signUp(page, { company: '错误密码测试公司', slug: unique('wp'), name: '钱七', email });
    await page.getByTestId('user-menu').click();
    await page.getByTestId('menu-logout').click();
    await page.waitForURL(/\/login$/);

    await page.getByTestId('login-email').fill(email);
    await page.getByTestId('login-password').fill('not-the-password');
    await page.getByTestId('login-submit').click();
    const error = page.getByTestId('form-error');
    await error.waitFor();
    assert.match(await error.textContent(), /邮箱或密码不正确/);
    await shot(page, 'login-error-zh');

    await page.getByTestId('lang-en').click();
    await page.getByRole('heading', { name: 'Welcome back' }).waitFor();
    await page.getByTestId('login-submit').click();
    await page.getByTestId('form-error').filter({ hasText: 'Incorrect email or password.' }).waitFor();
    await shot(page, 'login-error-en');
    assert.equal(new URL(page.url()).pathname, '/login');
  } finally {
    await context.close();
  }
});

test('a user of several workspaces picks one when signing in', { timeout: TEST_TIMEOUT }, async () => {
  const { context, page } = await newPage(browser);
  try {
    const email = uniqueEmail('multi');
    const slugA = unique('ma');
    const slugB = unique('mb');
    await signUp(page, { company: '东方电子有限公司', slug: slugA, name: '孙八', email });
    await page.getByTestId('user-menu').click();
    await page.getByTestId('menu-logout').click();
    await page.waitForURL(/\/login$/);
    // The same e-mail and password make the user owner of a second company.
    await signUp(page, { company: '西域物流有限公司', slug: slugB, name: '孙八', email, password: PASSWORD });
    await page.getByTestId('user-menu').click();
    await page.getByTestId('menu-logout').click();
    await page.waitForURL(/\/login$/);

    await page.getByTestId('login-email').fill(email);
    await page.getByTestId('login-password').fill(PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('tenant-list').waitFor();
    assert.equal(await page.getByTestId('tenant-list').locator('label').count(), 2);
    await shot(page, 'login-tenants');
    await page.getByTestId('tenant-list').locator('label', { hasText: '西域物流有限公司' }).click();
    await page.getByTestId('login-submit').click();
    await page.getByTestId('home-company').waitFor();
    assert.equal((await page.getByTestId('home-company').textContent()).trim(), '西域物流有限公司');
  } finally {
    await context.close();
  }
});
