/* Provisioning a new tenant in the caller's transaction; see tenants.h. */
#include "tenants/tenants.h"

#include <stdlib.h>

#include "app/core/db.h"
#include "tenants/embedded.h"

static struct db_stmt stmt_user_insert = DB_STMT(
    "INSERT INTO public.users (email, name, password_hash, locale) "
    "VALUES ($1, $2, $3, $4) RETURNING id", 4);
static struct db_stmt stmt_tenant_insert = DB_STMT(
    "INSERT INTO public.tenants (slug, name, locale, owner_user_id, schema_version) "
    "VALUES ($1, $2, $3, $4, $5) RETURNING id", 5);
static struct db_stmt stmt_membership_insert = DB_STMT(
    "INSERT INTO public.memberships (user_id, tenant_id) VALUES ($1, $2)", 2);
static struct db_stmt stmt_schema_create = DB_STMT(
    "SELECT public.crm_tenant_create($1)", 1);

/* In the tenant's context: the starter kit and the owner. */
static struct db_stmt stmt_seed_roles = DB_STMT(
    "INSERT INTO roles (key, name, permissions, record_scope, is_system) "
    "SELECT r->>'key', r->>'name', (r->'permissions') || rights_expand(r->'rights'), "
    "r->>'record_scope', "
    "coalesce((r->>'is_system')::bool, false) "
    "FROM jsonb_array_elements($1::jsonb->'roles') r", 1);
static struct db_stmt stmt_seed_pipelines = DB_STMT(
    "WITH p AS (SELECT ord - 1 AS pos, value AS pj "
    "  FROM jsonb_array_elements($1::jsonb->'pipelines') WITH ORDINALITY AS x(value, ord)), "
    "ins AS (INSERT INTO pipelines (name, position, is_default) "
    "  SELECT pj->>'name', pos, coalesce((pj->>'is_default')::bool, false) FROM p "
    "  RETURNING id, position) "
    "INSERT INTO pipeline_stages (pipeline_id, name, position, probability, kind) "
    "SELECT ins.id, s.value->>'name', s.ord - 1, (s.value->>'probability')::int, "
    "s.value->>'kind' FROM ins JOIN p ON p.pos = ins.position, "
    "jsonb_array_elements(p.pj->'stages') WITH ORDINALITY AS s(value, ord)", 1);
/* after the pipelines: a rule may name a stage */
static struct db_stmt stmt_seed_rules = DB_STMT("SELECT rules_seed($1::jsonb)", 1);
static struct db_stmt stmt_owner_insert = DB_STMT(
    "INSERT INTO members (user_id, email, name, role, status, locale) "
    "VALUES ($1, $2, $3, 'owner', 'active', $4)", 4);

/* Public rows: the user (when new), the tenant, the membership. */
static int
insert_platform_rows(struct req *r, const char *slug, const char *company,
    struct tenant_owner *o, int64_t *tenant_id)
{
	if (o->user_id == 0) {
		o->user_id = db_int64(DB_EXEC(r, &stmt_user_insert, 0, o->email,
		    o->name, o->password_hash, o->locale), 0, 0);
		if (o->user_id == 0)
			return db_violated(r, "users_email_key") ?
			    err_set(&r->err, ERR_EMAIL_TAKEN, NULL) : -1;
	}
	*tenant_id = db_int64(DB_EXEC(r, &stmt_tenant_insert, 0, slug, company,
	    o->locale, req_i64(r, o->user_id), req_i64(r, tenants_latest_version())), 0, 0);
	if (*tenant_id == 0)
		return db_violated(r, "tenants_slug_key") ?
		    err_set(&r->err, ERR_SLUG_TAKEN, NULL) : -1;
	const char *tid = req_i64(r, *tenant_id);
	if (DB_EXEC(r, &stmt_membership_insert, 0, req_i64(r, o->user_id), tid) == NULL ||
	    DB_EXEC(r, &stmt_schema_create, 0, tid) == NULL)
		return -1;
	return 0;
}

int
tenants_provision(struct req *r, const char *slug, const char *company,
    struct tenant_owner *owner, int64_t *tenant_id)
{
	if (insert_platform_rows(r, slug, company, owner, tenant_id) != 0 ||
	    tenants_schema_upgrade(r, *tenant_id, 0) != 0)
		return -1;
	if (DB_EXEC(r, &stmt_seed_roles, 0, default_template_json) == NULL ||
	    DB_EXEC(r, &stmt_seed_pipelines, 0, default_template_json) == NULL ||
	    DB_EXEC(r, &stmt_seed_rules, 0, default_template_json) == NULL ||
	    DB_EXEC(r, &stmt_owner_insert, 0, req_i64(r, owner->user_id),
	    owner->email, owner->name, owner->locale) == NULL)
		return -1;
	return db_switch_tenant(r, 0);
}
