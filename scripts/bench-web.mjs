#!/usr/bin/env node
// scripts/bench-web.mjs — the web app's figures, measured in Debian's Chromium
// (playwright-core from web/node_modules) against a running stack:
//
//   assets   the JavaScript and CSS that Chromium fetches, each file gzipped on its
//            own at level 6 (as `gzip -6` would; "served" is what nginx actually
//            sent, gzip level 1), with an empty cache, for:
//              landing  GET / until the sign-up form shows (the first screen);
//              login    GET /login until the login form shows;
//              home     from GET /login through signing in to the home screen
//                       with its dashboard drawn: what a user's first visit of
//                       the workspace loads, login page included; the chart's
//                       chunk (ECharts, loaded after the home screen renders) is
//                       counted apart as `chart`.
//   list     the time from navigation (performance.timeOrigin) to the customer
//            list showing 50 rows, for /app/customers opened by a signed-in user
//            (a refresh token in localStorage, as after an earlier visit): `cold`
//            in a new browser context each time (nothing cached), `warm` by
//            reloading one context (scripts and styles cached); min, p50
//            (nearest rank) and max of RUNS loads each.
//
// The tenant is signed up through the API for the run (its owner signs in) and
// gets 60 customers and one open opportunity (so the home screen draws its chart).
//
// Usage: node scripts/bench-web.mjs [--base URL] [--runs N] [--out FILE]
//   --base  the stack (default $CRM_BASE_URL, else http://127.0.0.1:8080)
//   --runs  loads per list figure (default 10)
//   --out   also write the figures as JSON to FILE (scripts/bench.sh puts them
//           into var/bench/latest.json under "web")
// Environment: CRM_CHROMIUM (default /usr/bin/chromium). Target: landing JS+CSS
// gzip <= 300 KB. Exit status 1 when a measurement could not be made.
import { createRequire } from 'node:module';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { chromium } = createRequire(path.join(REPO, 'web', 'package.json'))('playwright-core');
const CHROMIUM = process.env.CRM_CHROMIUM || '/usr/bin/chromium';
const TARGET_KB = 300;
const CUSTOMERS = 60;
const PASSWORD = `web-bench-${randomBytes(6).toString('hex')}`;
const TIMEOUT = 30_000;

function args() {
  const out = { base: process.env.CRM_BASE_URL || 'http://127.0.0.1:8080', runs: 10, out: null };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--base') out.base = v;
    else if (k === '--runs') out.runs = Number(v);
    else if (k === '--out') out.out = v;
    else throw new Error(`unknown argument ${k} (usage: --base URL --runs N --out FILE)`);
    i++;
  }
  if (!(out.runs >= 1)) throw new Error('--runs must be a positive number');
  out.base = out.base.replace(/\/+$/, '');
  return out;
}
const opt = args();

// ---- the API: the tenant and its data

async function call(method, p, { token, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${opt.base}/api/v1${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}

async function seed() {
  const stamp = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const email = `web-bench-${stamp}@example.com`;
  const { access_token: token } = await call('POST', '/auth/signup', {
    body: { company: `前端压测 ${stamp}`, slug: `web-${stamp}`, name: '压测用户', email, password: PASSWORD },
  });
  const ids = [];
  for (let i = 0; i < CUSTOMERS; i += 10) {
    const batch = Array.from({ length: Math.min(10, CUSTOMERS - i) }, (_, k) =>
      call('POST', '/customers', { token, body: { name: `压测客户 ${stamp} ${i + k + 1}`, phone: `1380000${String(i + k).padStart(4, '0')}`, force: true } }));
    ids.push(...(await Promise.all(batch)).map((c) => c.id));
  }
  await call('POST', '/opportunities', { token, body: { name: '压测商机', customer_id: ids[0], amount: '100000.00' } });
  return { email };
}

// ---- the browser

const launch = () => chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  timeout: TIMEOUT,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});

async function context(browser) {
  const ctx = await browser.newContext({ baseURL: opt.base, locale: 'zh-CN', viewport: { width: 1366, height: 860 } });
  ctx.setDefaultTimeout(TIMEOUT);
  return ctx;
}

// Records the scripts and style sheets a page fetches: url → { type, raw, gzip, served }.
function recordAssets(page) {
  const files = new Map();
  const pending = [];
  page.on('response', (res) => {
    const type = res.request().resourceType();
    if (type !== 'script' && type !== 'stylesheet') return;
    pending.push((async () => {
      const body = await res.body();
      const sizes = await res.request().sizes();
      files.set(res.url(), { type, raw: body.length, gzip: gzipSync(body, { level: 6 }).length, served: sizes.responseBodySize });
    })().catch(() => {}));
  });
  return { files, settle: () => Promise.all(pending) };
}

const kb = (n) => Math.round((n / 1024) * 10) / 10;
function sum(entries) {
  const s = { files: entries.length, js_gzip_kb: 0, css_gzip_kb: 0, gzip_kb: 0, raw_kb: 0, served_kb: 0 };
  let js = 0, css = 0, raw = 0, served = 0;
  for (const [, f] of entries) {
    if (f.type === 'script') js += f.gzip; else css += f.gzip;
    raw += f.raw;
    served += f.served;
  }
  return { ...s, js_gzip_kb: kb(js), css_gzip_kb: kb(css), gzip_kb: kb(js + css), raw_kb: kb(raw), served_kb: kb(served) };
}

async function assets(browser, email) {
  const out = {};
  for (const [name, route, testid] of [['landing', '/', 'signup-company'], ['login', '/login', 'login-email']]) {
    const ctx = await context(browser);
    const page = await ctx.newPage();
    const rec = recordAssets(page);
    await page.goto(route);
    await page.getByTestId(testid).waitFor();
    await page.waitForLoadState('networkidle');
    await rec.settle();
    out[name] = sum([...rec.files]);
    await ctx.close();
  }
  // Sign in from the login page; the home screen with its chart drawn.
  const ctx = await context(browser);
  const page = await ctx.newPage();
  const rec = recordAssets(page);
  await page.goto('/login');
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('welcome').waitFor();
  await page.getByTestId('pipeline-chart').locator('canvas').first().waitFor();
  await page.waitForLoadState('networkidle');
  await rec.settle();
  const all = [...rec.files];
  const isChart = ([url]) => /\/PipelineChart-[^/]*\.js$/.test(url);
  out.home = sum(all.filter((f) => !isChart(f)));
  out.chart = sum(all.filter(isChart));
  await ctx.close();
  return out;
}

// A refresh token of the user (a new session), as the app keeps it after a visit.
async function refreshToken(email) {
  return (await call('POST', '/auth/login', { body: { email, password: PASSWORD } })).refresh_token;
}

// performance.now() (ms since the navigation started) when the customer list first
// shows 50 rows.
const fiftyRows = (page) => page.waitForFunction(
  () => (document.querySelectorAll('[data-testid="customers-table"] .el-table__body tbody tr').length >= 50 ? performance.now() : false),
  null, { polling: 'raf', timeout: TIMEOUT },
).then((h) => h.jsonValue());

const stats = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  const round = (x) => Math.round(x);
  return { runs: ms.map(round), min_ms: round(s[0]), p50_ms: round(s[Math.ceil(0.5 * s.length) - 1]), max_ms: round(s.at(-1)) };
};

async function listTimes(browser, email) {
  const cold = [];
  for (let i = 0; i < opt.runs; i++) {
    const token = await refreshToken(email);
    const ctx = await context(browser);
    await ctx.addInitScript((t) => { if (!localStorage.getItem('crm.refresh_token')) localStorage.setItem('crm.refresh_token', t); }, token);
    const page = await ctx.newPage();
    await page.goto('/app/customers', { waitUntil: 'commit' });
    cold.push(await fiftyRows(page));
    await ctx.close();
  }
  const warm = [];
  const ctx = await context(browser);
  const token = await refreshToken(email);
  await ctx.addInitScript((t) => { if (!localStorage.getItem('crm.refresh_token')) localStorage.setItem('crm.refresh_token', t); }, token);
  const page = await ctx.newPage();
  await page.goto('/app/customers', { waitUntil: 'commit' });
  await fiftyRows(page);   // fills the cache
  for (let i = 0; i < opt.runs; i++) {
    await page.goto('/app/customers', { waitUntil: 'commit' });
    warm.push(await fiftyRows(page));
  }
  await ctx.close();
  return { cold: stats(cold), warm: stats(warm) };
}

// ---- main

if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (Debian package chromium; scripts/setup.sh)`);
if (!existsSync(path.join(REPO, 'web', 'dist', 'index.html'))) throw new Error('web/dist is not built: run scripts/web.sh');
const { email } = await seed();
const browser = await launch();
let doc;
try {
  const files = await assets(browser, email);
  const list = await listTimes(browser, email);
  doc = {
    assets: files,
    customers_list_50_rows: list,
    target: { landing_gzip_kb_max: TARGET_KB, landing_ok: files.landing.gzip_kb <= TARGET_KB },
    config: { base: opt.base, runs: opt.runs, customers: CUSTOMERS, chromium: browser.version(), viewport: '1366x860' },
    measured_at: new Date().toISOString(),
  };
} finally {
  await browser.close();
}

const line = (label, a) => `${label.padEnd(22)} ${String(a.files).padStart(3)} files   JS ${a.js_gzip_kb.toFixed(1).padStart(6)} KB + CSS ${a.css_gzip_kb.toFixed(1).padStart(5)} KB = ${a.gzip_kb.toFixed(1).padStart(6)} KB gzip -6   (served ${a.served_kb.toFixed(1)} KB, raw ${a.raw_kb.toFixed(1)} KB)`;
const { assets: a, customers_list_50_rows: l } = doc;
console.log(line('web landing (/)', a.landing) + `   (target <= ${TARGET_KB} KB${doc.target.landing_ok ? '' : ': MISSED'})`);
console.log(line('web /login', a.login));
console.log(line('web login → home', a.home));
console.log(line('web home chart (lazy)', a.chart));
for (const k of ['cold', 'warm'])
  console.log(`web customers 50 rows ${k}: p50 ${l[k].p50_ms} ms   min ${l[k].min_ms} ms   max ${l[k].max_ms} ms   (${l[k].runs.length} loads: ${l[k].runs.join(' ')})`);
if (opt.out) writeFileSync(opt.out, JSON.stringify(doc, null, 2) + '\n');
