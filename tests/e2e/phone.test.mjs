// The main flow on a 375×812 phone: sign up, the drawer navigation, the members list
// (cards instead of the table) and the invite dialog.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPage, signUp, shot, unique, uniqueEmail, openMembers, inviteMember, TEST_TIMEOUT } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// No element wider than the screen (no sideways scrolling of the page).
const overflowX = (page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

test('sign up and manage members on a phone', { timeout: TEST_TIMEOUT }, async () => {
  const { context, page } = await newPage(browser, { phone: true });
  try {
    await page.goto('/');
    await shot(page, 'phone-landing');
    assert.ok(await overflowX(page) <= 0, 'the landing page fits the phone width');

    const company = '蓝鲸软件有限公司';
    await signUp(page, { company, slug: unique('lj'), name: '周九', email: uniqueEmail('phone'), screenshot: 'phone-signup-filled' });
    assert.equal((await page.getByTestId('home-company').textContent()).trim(), company);
    assert.equal(await page.locator('aside.side').count(), 0, 'no side bar on a phone');
    assert.ok(await overflowX(page) <= 0, 'the home page fits the phone width');
    await shot(page, 'phone-home');

    await page.getByTestId('open-nav').click();
    await page.getByTestId('nav-drawer').waitFor();
    await shot(page, 'phone-drawer', { fullPage: false });
    await page.getByTestId('nav-drawer').getByTestId('nav-members').click();
    await page.waitForURL(/\/app\/settings\/members$/);
    await page.getByTestId('nav-drawer').waitFor({ state: 'hidden' });
    await page.getByTestId('members-list').waitFor();
    assert.equal(await page.getByTestId('members-list').locator('li').count(), 1);
    assert.ok(await overflowX(page) <= 0, 'the members page fits the phone width');

    const email = uniqueEmail('phone-member');
    const link = await inviteMember(page, { email, role: 'sales' });
    assert.match(link, /\/invite#[^/#]+$/);
    await shot(page, 'phone-invite-link');
    await page.getByRole('button', { name: '完成' }).click();
    const card = page.getByTestId(`member-${email}`);
    await card.waitFor();
    assert.equal(await card.getAttribute('data-status'), 'invited');
    await shot(page, 'phone-members');
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});
