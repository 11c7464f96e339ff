// Tenant schema migrations: a tenant whose schema is behind is not served
// (503 tenant_migrating) until `crmctl tenants migrate` brings it up to date,
// one transaction per tenant, recording the version it reached.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertError, crmctl, expectStatus, me, psql, signup } from './lib.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

async function sql(text) {
  const res = await psql(text);
  assert.equal(res.code, 0, res.stderr);
  return res.stdout.trim();
}

// The latest tenant schema version: the highest NNN of sql/tenant/NNN_*.sql.
const LATEST = Math.max(...readdirSync(path.join(REPO, 'sql', 'tenant'))
  .filter((f) => /^\d{3}_.*\.sql$/.test(f)).map((f) => Number(f.slice(0, 3))));

// What undoes the newest migration, to take a tenant back one version. A new
// migration must bring its own undo here (the test says so when it is missing).
// The functions a migration file creates, by name (it may overload none).
const functionsOf = (file) => [...readFileSync(path.join(REPO, 'sql', 'tenant', file), 'utf8')
  .matchAll(/^CREATE (?:OR REPLACE )?FUNCTION (\w+)\(/gm)].map((m) => m[1]);
const UNDO = {
  8: (id) => `DROP TABLE t_${id}.emails, t_${id}.enrollments, t_${id}.sequences, t_${id}.email_templates, t_${id}.deliveries,
      t_${id}.webhooks, t_${id}.notifications, t_${id}.rule_runs, t_${id}.rules CASCADE;
    DROP TRIGGER outbox_wake ON t_${id}.outbox;
    DROP INDEX t_${id}.customers_idle, t_${id}.customers_pool;
    DELETE FROM t_${id}.settings WHERE key IN ('automation.swept_at', 'tasks.reminder_minutes',
      'public_pool.claim_limits', 'sequences.unsubscribe_secret');
    ${functionsOf('008_automation.sql').map((f) => `DROP FUNCTION IF EXISTS t_${id}.${f} CASCADE;`).join('\n')}`,
};

test('a new tenant is at the latest schema version and has its default settings', async () => {
  const owner = await signup();
  const id = owner.tenant.id;
  assert.equal(await sql(`SELECT schema_version FROM tenants WHERE id = ${id}`), String(LATEST));
  const currency = await sql(`BEGIN; SET LOCAL ROLE crm_t_${id};
    SELECT value #>> '{}' FROM t_${id}.settings WHERE key = 'currency'; COMMIT;`);
  assert.match(currency, /CNY/);
});

test('a tenant behind the latest schema gets 503 tenant_migrating until crmctl tenants migrate', async () => {
  assert.ok(UNDO[LATEST], `migrations.test.mjs needs the undo of migration ${LATEST}`);
  const owner = await signup();
  const id = owner.tenant.id;
  // Take the tenant back one version: as if the newest migration had not run yet.
  await sql(`BEGIN; SET LOCAL ROLE crm_t_${id}; ${UNDO[LATEST](id)} RESET ROLE;
    UPDATE tenants SET schema_version = ${LATEST - 1} WHERE id = ${id}; COMMIT;`);
  assertError(await me(owner.access_token), 503, 'tenant_migrating');

  const run = await crmctl('tenants', 'migrate', '--jobs', '2');
  assert.equal(run.code, 0, run.stderr);
  assert.equal(await sql(`SELECT schema_version FROM tenants WHERE id = ${id}`), String(LATEST));
  expectStatus(await me(owner.access_token), 200);
  assert.equal(await sql(`BEGIN; SET LOCAL ROLE crm_t_${id};
    SELECT count(*) FROM t_${id}.notifications; COMMIT;`), '0');

  // Nothing is left to do: a second run changes nothing and succeeds.
  const again = await crmctl('tenants', 'migrate');
  assert.equal(again.code, 0, again.stderr);
});

test('crmctl tenants export writes the tenant\'s data without deleting it', async () => {
  const owner = await signup();
  const run = await crmctl('tenants', 'export', '--slug', owner.tenant.slug);
  assert.equal(run.code, 0, run.stderr);
  const file = run.stdout.trim();
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(doc.tenant.slug, owner.tenant.slug);
  assert.ok(doc.data.members.some((m) => m.email === owner.user.email));
  assert.equal(JSON.stringify(doc).includes('password_hash'), false);
  expectStatus(await me(owner.access_token), 200);
});

test('crmctl tenants export of an unknown slug fails', async () => {
  const run = await crmctl('tenants', 'export', '--slug', 'no-such-tenant-here');
  assert.notEqual(run.code, 0);
});
