/* Platform and tenant schema migrations; see tenants.h. */
#include "tenants/tenants.h"

#include <stdlib.h>

#include "app/core/db.h"
#include "app/core/log.h"
#include "tenants/embedded.h"

static struct db_stmt stmt_platform_applied = DB_STMT(
    "SELECT EXISTS (SELECT 1 FROM public.schema_migrations WHERE version = $1)", 1);
static struct db_stmt stmt_platform_record = DB_STMT(
    "INSERT INTO public.schema_migrations (version, name) VALUES ($1, $2)", 2);
static struct db_stmt stmt_claim_tenant = DB_STMT(
    "SELECT id, schema_version FROM public.tenants WHERE schema_version < $1 "
    "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED", 1);
static struct db_stmt stmt_set_version = DB_STMT(
    "UPDATE public.tenants SET schema_version = $2, updated_at = now() "
    "WHERE id = $1", 2);

/* Serialises concurrent `crmctl migrate` runs and creates the ledger. */
static const char platform_prologue[] =
    "SELECT pg_advisory_xact_lock(7311);"
    "CREATE TABLE IF NOT EXISTS public.schema_migrations ("
    " version int PRIMARY KEY, name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

int
tenants_latest_version(void)
{
	int latest = 0;

	for (const struct migration *m = tenant_migrations; m->name != NULL; m++)
		latest = m->version;
	return latest;
}

int
tenants_migrate_platform(struct req *r)
{
	for (const struct migration *m = platform_migrations; m->name != NULL; m++) {
		const char *version = req_i64(r, m->version);

		db_begin(r, 0);
		if (db_script(r, platform_prologue) != 0)
			return -1;
		const char *applied = DB_VALUE(r, &stmt_platform_applied, 0, version);
		if (applied == NULL)
			return -1;
		if (*applied == 'f') {
			if (db_script(r, m->sql) != 0 ||
			    DB_EXEC(r, &stmt_platform_record, 0, version, m->name) == NULL)
				return -1;
			log_info("platform migration %03d_%s applied", m->version, m->name);
		}
		if (db_commit(r) != 0)
			return -1;
	}
	return 0;
}

int
tenants_schema_upgrade(struct req *r, int64_t tenant_id, int from)
{
	if (db_switch_tenant(r, tenant_id) != 0)
		return -1;
	for (const struct migration *m = tenant_migrations; m->name != NULL; m++)
		if (m->version > from && db_script(r, m->sql) != 0)
			return -1;
	return 0;
}

int
tenants_migrate_next(struct req *r, int64_t *tenant_id)
{
	const char *latest = req_i64(r, tenants_latest_version());

	*tenant_id = 0;
	db_begin(r, 0);
	PGresult *res = DB_EXEC(r, &stmt_claim_tenant, 0, latest);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0)
		return db_commit(r);
	int64_t id = db_int64(res, 0, 0);
	int from = atoi(PQgetvalue(res, 0, 1));
	if (tenants_schema_upgrade(r, id, from) != 0 ||
	    db_switch_tenant(r, 0) != 0 ||
	    DB_EXEC(r, &stmt_set_version, 0, req_i64(r, id), latest) == NULL ||
	    db_commit(r) != 0) {
		log_error("tenant %lld: migration from version %d failed", (long long)id, from);
		db_rollback(r);
		return -1;
	}
	log_info("tenant %lld migrated from version %d to %s", (long long)id, from, latest);
	*tenant_id = id;
	return 0;
}
