// Webhooks & robots and the workspace settings in the browser: a generic webhook
// added through the form reaches a local receiver (started here) signed with the
// secret typed in, its delivery log shows the delivery done, and its switch turns it
// off; the workspace form saves the pool days and a role's claim limit, while a bad
// value (the form's own check, and one the API refuses) is shown by its input and
// changes nothing; both screens on a 375 px phone in English (the roles named in
// English). The stack must let webhooks reach 127.0.0.1 (CRM_WEBHOOK_ALLOW_PRIVATE,
// set by the dev and test stacks).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { eventually, launch, login, newPage, shot, unique, workspace as newWorkspace, TEST_TIMEOUT } from './lib.mjs';

let browser;
let receiver;
let receiverUrl;
const received = new Map(); // path → [{ headers, body }]

// Answers 200 to everything and keeps each request by its path.
function startReceiver() {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const { pathname } = new URL(req.url, 'http://receiver');
        if (!received.has(pathname)) received.set(pathname, []);
        received.get(pathname).push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

before(async () => {
  [browser, receiver] = await Promise.all([launch(), startReceiver()]);
  receiverUrl = `http://127.0.0.1:${receiver.address().port}`;
});
after(async () => {
  await browser?.close();
  receiver?.close();
});


const deliveryDone = (ws, hookId) => eventually('the delivery to be recorded done',
  async () => (await ws.api('GET', `/webhooks/${hookId}/deliveries`)).data[0]?.status === 'done');

// A webhook to the receiver at `path` for customer.created, and one such event
// delivered to it: the webhook, once the log says done.
async function deliveredHook(ws, path) {
  const hook = await ws.api('POST', '/webhooks', { name: '订单系统', url: `${receiverUrl}${path}`, events: ['customer.created'] });
  await ws.api('POST', '/customers', { name: '杭州云栖科技有限公司' });
  await deliveryDone(ws, hook.id);
  return hook;
}

const noSideScroll = (page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

// Opens a settings screen through the navigation (the drawer on a phone).
async function openScreen(page, name, { phone = false } = {}) {
  let nav = page;
  if (phone) {
    await page.getByTestId('open-nav').click();
    nav = page.getByTestId('nav-drawer');
  }
  await nav.getByTestId(`nav-${name}`).click();
}

// Each test has its own workspace and browser context: they run side by side.
describe('webhooks and workspace settings', { concurrency: true }, () => {
  test('a generic webhook added through the form gets customer.created signed with its secret; the log shows it delivered; its switch turns it off', { timeout: TEST_TIMEOUT }, async () => {
    const ws = await newWorkspace('西湖数据有限公司', { prefix: 'hook', name: '周航' });
    const secret = `e2e-${unique()}`;
    const path = `/orders-${unique()}`;
    const { context, page } = await newPage(browser);
    try {
      await login(page, ws.email);
      await openScreen(page, 'settings-webhooks');
      await page.getByTestId('webhooks-empty').waitFor();
      await page.getByTestId('add-webhook').click();
      const dialog = page.getByTestId('webhook-dialog');
      await dialog.getByTestId('kind-help-generic').waitFor();
      await dialog.getByTestId('webhook-name').fill('订单系统');
      await dialog.getByTestId('webhook-url').fill(`${receiverUrl}${path}?token=private-token`);
      await dialog.getByTestId('webhook-secret').fill(secret);
      await dialog.getByTestId('webhook-events').click();
      await page.getByTestId('event-option-customer.created').click(); // replaces "all events"
      await dialog.locator('.el-dialog__title').click(); // closes the options
      await dialog.getByTestId('webhook-save').click();
      await dialog.waitFor({ state: 'hidden' });

      const [hook] = (await ws.api('GET', '/webhooks')).data;
      assert.deepEqual(hook.events, ['customer.created']);
      assert.equal(hook.secret, secret, 'the secret typed in is the one stored');
      const card = page.getByTestId(`webhook-${hook.id}`);
      await card.waitFor();
      const cardText = await card.innerText();
      assert.ok(!cardText.includes('private-token'), 'the list hides the token of the URL');
      assert.match(cardText, /客户 · 创建/);

      const customer = await ws.api('POST', '/customers', { name: '杭州云栖科技有限公司' });
      const [hit] = await eventually('the receiver to get the event', () => received.get(path));
      const ts = hit.headers['x-crm-timestamp'];
      const expected = `sha256=${createHmac('sha256', secret).update(`${ts}.${hit.body}`).digest('hex')}`;
      assert.equal(hit.headers['x-crm-signature'], expected, 'signed with the secret typed in');
      assert.equal(JSON.parse(hit.body).record_id, customer.id);
      await deliveryDone(ws, hook.id);

      await card.getByTestId(`webhook-log-${hook.id}`).click();
      await page.waitForURL(new RegExp(`/app/settings/webhooks/${hook.id}$`));
      const log = page.getByTestId('delivery-log');
      await log.locator('[data-testid="delivery-state"][data-state="done"]').waitFor();
      const logText = await log.innerText();
      assert.match(logText, /已送达/);
      assert.match(logText, /HTTP 200/);
      assert.match(logText, /customer\.created/);
      await shot(page, 'integrations-webhook-log');

      await page.getByTestId(`webhook-switch-${hook.id}`).click();
      await page.locator('.el-message--success').filter({ hasText: '已停用' }).waitFor();
      assert.equal((await ws.api('GET', '/webhooks')).data[0].enabled, false, 'the switch turned it off');
    } finally {
      await context.close();
    }
  });

  test("the workspace form saves the pool days and a role's claim limit; a bad value is shown by its input and changes nothing", { timeout: TEST_TIMEOUT }, async () => {
    const ws = await newWorkspace('钱塘贸易有限公司', { prefix: 'wsset', name: '吴楠' });
    const { context, page } = await newPage(browser);
    try {
      await login(page, ws.email);
      await openScreen(page, 'settings-workspace');
      const form = page.getByTestId('workspace-form');
      const days = form.getByTestId('workspace-pool-days').locator('input');
      const save = form.getByTestId('workspace-save');
      await days.fill('45');
      await form.getByTestId('claim-limit-sales').locator('input').fill('120');
      await save.click();
      await page.locator('.el-message--success').filter({ hasText: '工作区设置已保存' }).waitFor();
      const saved = await ws.api('GET', '/settings');
      assert.equal(saved['public_pool.days_without_follow_up'], 45);
      assert.deepEqual(saved['public_pool.claim_limits'], { sales: 120, manager: 500 });

      // the form's own check: the days left empty
      await days.fill('');
      await save.click();
      await form.getByText('请输入 0 到 3,650 之间的整数').waitFor();

      // A value the API refuses: the form offers none, so the request is altered on
      // its way, as a stale or hand-made one would be. The whole PATCH is refused.
      await page.route('**/api/v1/settings', (route) => {
        const req = route.request();
        if (req.method() !== 'PATCH') return route.continue();
        return route.continue({ postData: JSON.stringify({ ...req.postDataJSON(), currency: 'rmb' }) });
      });
      await days.fill('60');
      await save.click();
      await form.getByText('请选择有效的币种').waitFor();
      await shot(page, 'integrations-workspace-error');
      const after = await ws.api('GET', '/settings');
      assert.equal(after['public_pool.days_without_follow_up'], 45, 'nothing changed');
      assert.equal(after.currency, 'CNY');
    } finally {
      await context.close();
    }
  });

  test('on a 375 px phone in English: the webhook form, a delivery log and the workspace form fit the screen', { timeout: TEST_TIMEOUT }, async () => {
    const ws = await newWorkspace('Lakeside Trading', { prefix: 'hookph', name: 'Ann Lee' });
    const { context, page } = await newPage(browser, { phone: true, locale: 'en' });
    try {
      await page.addInitScript(() => localStorage.setItem('crm.locale', 'en'));
      const [hook] = await Promise.all([deliveredHook(ws, `/phone-${unique()}`), login(page, ws.email)]);
      await openScreen(page, 'settings-webhooks', { phone: true });
      await page.getByTestId(`webhook-${hook.id}`).waitFor();
      await page.getByTestId('add-webhook').click();
      const dialog = page.getByTestId('webhook-dialog');
      await dialog.getByTestId('webhook-kind-dingtalk').click();
      await dialog.getByTestId('kind-help-dingtalk').getByText('DingTalk custom robot').waitFor();
      const box = await dialog.boundingBox();
      assert.ok(box.x >= 0 && box.x + box.width <= 375, `the dialog fits: ${JSON.stringify(box)}`);
      await shot(page, 'integrations-webhook-form-phone', { fullPage: false });
      await dialog.getByRole('button', { name: 'Cancel' }).click();

      await page.getByTestId(`webhook-log-${hook.id}`).click();
      const delivery = page.getByTestId('delivery-log').getByTestId('delivery');
      await delivery.locator('[data-testid="delivery-state"][data-state="done"]').getByText('Delivered').waitFor();
      assert.ok(await noSideScroll(page), 'the log needs no sideways scrolling');
      await shot(page, 'integrations-webhook-log-phone');

      await openScreen(page, 'settings-workspace', { phone: true });
      // the built-in roles, stored with Chinese names, are named in English
      await page.getByTestId('workspace-claim-limits').getByText('Sales manager', { exact: true }).waitFor();
      await page.getByTestId('claim-limit-sales').waitFor();
      assert.ok(await noSideScroll(page), 'the workspace form needs no sideways scrolling');
      await shot(page, 'integrations-workspace-phone');
    } finally {
      await context.close();
    }
  });
});
