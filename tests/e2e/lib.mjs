// Shared helpers of the browser tests (node --test): Debian's chromium driven by
// playwright-core, which comes from web/node_modules (installed by scripts/setup.sh
// or scripts/web.sh with `npm ci` in web/). Screenshots go to var/e2e-screenshots/.
import { createRequire } from 'node:module';
import { mkdirSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const requireFromWeb = createRequire(path.join(REPO, 'web', 'package.json'));
export const { chromium } = requireFromWeb('playwright-core');

export const BASE_URL = (process.env.CRM_BASE_URL || 'http://127.0.0.1:18080').replace(/\/+$/, '');
export const SHOTS = path.join(REPO, 'var', 'e2e-screenshots');
export const PASSWORD = 'correct-horse-42';
export const CHROMIUM = process.env.CRM_CHROMIUM || '/usr/bin/chromium';
export const TIMEOUT = 15_000;          // one step (a click, a page load)
export const TEST_TIMEOUT = 90_000;     // one test

mkdirSync(SHOTS, { recursive: true });

export async function launch() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: run scripts/setup.sh (Debian package chromium)`);
  if (!existsSync(path.join(REPO, 'web', 'dist', 'index.html'))) throw new Error('web/dist is not built: run scripts/web.sh');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

// A fresh context (its own storage) and page; collects page errors and CSP reports.
export async function newPage(browser, { phone = false, locale = 'zh-CN' } = {}) {
  const context = await browser.newContext({
    baseURL: BASE_URL,
    locale,
    viewport: phone ? { width: 375, height: 812 } : { width: 1366, height: 860 },
    deviceScaleFactor: phone ? 2 : 1,
    isMobile: phone,
    hasTouch: phone,
  });
  context.setDefaultTimeout(TIMEOUT);
  context.setDefaultNavigationTimeout(TIMEOUT);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) page.errors.push(m.text());
  });
  return { context, page };
}

export const unique = (prefix = 'e2e') => `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
export const uniqueEmail = (who = 'user') => `${unique(who)}@example.com`;

export async function shot(page, name, { fullPage = true } = {}) {
  await page.waitForTimeout(250); // let transitions settle
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}

// Signs up a company through the landing page; ends on the home page.
export async function signUp(page, { company, slug, name, email, password = PASSWORD, screenshot }) {
  await page.goto('/');
  await page.getByTestId('signup-company').fill(company);
  await page.getByTestId('signup-slug').fill(slug);
  await page.getByTestId('slug-available').waitFor();
  await page.getByTestId('signup-name').fill(name);
  await page.getByTestId('signup-email').fill(email);
  await page.getByTestId('signup-password').fill(password);
  if (screenshot) await shot(page, screenshot);
  await page.getByTestId('signup-submit').click();
  await page.waitForURL(/\/app(\?|$)/);
  await page.getByTestId('welcome').waitFor();
}

// Opens the members page through the navigation (the drawer on a phone).
export async function openMembers(page, { phone = false } = {}) {
  if (phone) {
    await page.getByTestId('open-nav').click();
    await page.getByTestId('nav-drawer').waitFor();
    await page.getByTestId('nav-drawer').getByTestId('nav-members').click();
  } else {
    await page.getByTestId('nav-members').click();
  }
  await page.waitForURL(/\/app\/settings\/members$/);
}

// Invites EMAIL from the open members page and answers the invitation link.
export async function inviteMember(page, { email, name, role }) {
  await page.getByTestId('open-invite').click();
  const dialog = page.getByTestId('invite-dialog');
  await dialog.getByTestId('invite-email-input').fill(email);
  if (name) await dialog.getByTestId('invite-name-input').fill(name);
  if (role) {
    await dialog.getByTestId('invite-role').click();
    await page.getByTestId(`role-option-${role}`).click();
  }
  await dialog.getByTestId('invite-send').click();
  const link = dialog.getByTestId('invite-link');
  await link.waitFor();
  return link.inputValue();
}

// ---- Seeding and checking through the API (record screens' tests)

// One API call; throws on a status that is not 2xx. version goes as If-Match.
export async function apiCall(method, path, { token, body, version } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  if (version !== undefined) headers['If-Match'] = String(version);
  const res = await fetch(`${BASE_URL}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}

// A new workspace made through the API: { email, token, api(method, path, body?, version?) }.
export async function workspace(company, { prefix = 'rec', name = '陈静' } = {}) {
  const email = uniqueEmail(prefix);
  const r = await apiCall('POST', '/auth/signup', { body: { company, slug: unique(prefix), name, email, password: PASSWORD } });
  const token = r.access_token;
  return { email, token, api: (method, path, body, version) => apiCall(method, path, { token, body, version }) };
}

// Signs in through the login page and waits for the home screen.
export async function login(page, email) {
  await page.goto('/login');
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.waitForURL(/\/app(\?|$)/);
  await page.getByTestId('welcome').waitFor();
}

// Polls until fn answers something truthy, and answers that: what crm-worker does
// takes a moment (longer on a busy machine).
export async function eventually(what, fn, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

// The raw message (headers and body) that the stack's SMTP sink wrote under
// $CRM_VAR/mail for `to`, or null.
export function sentMail(to) {
  const dir = path.join(process.env.CRM_VAR || path.join(REPO, 'var', 'test'), 'mail');
  let names = [];
  try { names = readdirSync(dir).filter((f) => f.endsWith('.eml')); } catch { return null; }
  for (const f of names) {
    const raw = readFileSync(path.join(dir, f), 'utf8');
    if (raw.includes(`<${to}>`)) return raw;
  }
  return null;
}
