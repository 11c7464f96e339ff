/* Platform calls for operators (audience "crm-platform"): sign-in, the list
 * of tenants, suspension, and deletion after an export. Every change to a
 * tenant is written to public.operator_audit. */
#include <stdlib.h>
#include <string.h>

#include "app/core/auth.h"
#include "app/core/db.h"
#include "app/core/json.h"
#include "app/core/module.h"
#include "app/core/session.h"
#include "app/modules/auth/identity.h"
#include "tenants/tenants.h"


static struct db_stmt stmt_operator_by_email = DB_STMT(
    "SELECT id, password_hash, name FROM public.operators WHERE email = $1", 1);
static struct db_stmt stmt_tenants = DB_STMT(
    "WITH page AS (SELECT * FROM public.tenants t WHERE t.id > $1 "
    "  AND ($2::text IS NULL OR strpos(lower(t.slug), lower($2)) > 0 "
    "   OR strpos(lower(t.name), lower($2)) > 0) "
    "  AND ($3::text IS NULL OR t.status = $3) ORDER BY t.id LIMIT $4 + 1), "
    "shown AS (SELECT * FROM page ORDER BY id LIMIT $4) "
    "SELECT json_build_object("
    " 'data', coalesce((SELECT json_agg(public.crm_tenant_json(s) ORDER BY s.id) "
    "   FROM shown s), '[]'), "
    " 'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $4 "
    "   THEN (SELECT max(id) FROM shown)::text END)", 4);
static struct db_stmt stmt_tenant = DB_STMT(
    "SELECT (public.crm_tenant_json(t) || jsonb_build_object('owner', "
    " (SELECT jsonb_build_object('id', u.id, 'email', u.email, 'name', u.name) "
    "  FROM public.users u WHERE u.id = t.owner_user_id)))::text "
    "FROM public.tenants t WHERE t.id = $1", 1);
static struct db_stmt stmt_set_status = DB_STMT(
    "WITH upd AS (UPDATE public.tenants SET status = $2, updated_at = now() "
    " WHERE id = $1 RETURNING *), "
    "aud AS (INSERT INTO public.operator_audit (operator_id, action, tenant_id, tenant_slug) "
    " SELECT $3, $4, id, slug FROM upd) "
    "SELECT public.crm_tenant_json(upd)::text FROM upd", 4);
static struct db_stmt stmt_slug_of = DB_STMT(
    "SELECT slug FROM public.tenants WHERE id = $1", 1);
static struct db_stmt stmt_audit_delete = DB_STMT(
    "INSERT INTO public.operator_audit (operator_id, action, tenant_id, tenant_slug, detail) "
    "VALUES ($1, 'delete', $2, $3, jsonb_build_object('export', $4::text))", 4);

/* POST /api/v1/platform/auth/login */
static int
platform_login(struct req *r)
{
	struct session s;

	const char *email = json_get_email(r, r->json, "email", JSON_REQUIRED);
	const char *password = json_get_str(r, r->json, "password", JSON_REQUIRED, 1, 256);
	if (json_invalid(r) || identity_check_login_limits(r, "op", email) != 0)
		return req_fail(r);
	PGresult *res = DB_EXEC(r, &stmt_operator_by_email, DB_COMMIT, email);
	if (res == NULL || identity_verify_password(r, "op", email, password, res) != 0)
		return req_fail(r);
	int64_t id = db_int64(res, 0, 0);
	if (session_create(r, 0, id, "operator", &s) != 0)
		return req_fail(r);
	struct token_claims c = {.sub = id, .tid = 0, .sid = s.id,
	    .role = "operator", .aud = AUTH_AUD_PLATFORM};
	struct buf b;
	buf_init(&b, r->arena);
	buf_addf(&b, "{\"operator\":{\"id\":%lld,\"email\":", (long long)id);
	buf_add_json_str(&b, email);
	buf_adds(&b, ",\"name\":");
	buf_add_json_str(&b, PQgetvalue(res, 0, 2));
	buf_adds(&b, "},\"access_token\":");
	buf_add_json_str(&b, auth_token_issue(r, &c));
	buf_addf(&b, ",\"token_type\":\"Bearer\",\"expires_in\":%d}", AUTH_ACCESS_TTL);
	return req_json(r, 200, buf_cstr(&b));
}

/* POST /api/v1/platform/auth/logout */
static int
platform_logout(struct req *r)
{
	if (session_end(r, 0, r->id.user_id, r->id.session_id) != 0)
		return req_fail(r);
	return req_no_content(r);
}

/* GET /api/v1/platform/tenants?q=&status=&limit=&cursor= */
static int
platform_tenants(struct req *r)
{
	const char *q = req_query(r, "q"), *status = req_query(r, "status");
	struct page page;

	req_page(r, &page);
	if (q != NULL && utf8_length(q) > 100)
		err_field(&r->err, "q", "too_long");
	if (status != NULL && strcmp(status, "active") != 0 &&
	    strcmp(status, "suspended") != 0)
		err_field(&r->err, "status", "invalid_value");
	if (r->err.code != ERR_NONE)
		return req_fail(r);
	const char *json = DB_VALUE(r, &stmt_tenants, DB_COMMIT, req_i64(r, page.after),
	    q != NULL && *q != '\0' ? q : NULL, status, req_i64(r, page.limit));
	return json != NULL ? req_json(r, 200, json) : req_fail(r);
}

/* GET /api/v1/platform/tenants/{id} */
static int
platform_tenant(struct req *r)
{
	int64_t id;

	if (req_param_id_or_fail(r, "id", &id) != 0)
		return req_fail(r);
	const char *json = DB_VALUE(r, &stmt_tenant, DB_COMMIT, req_i64(r, id));
	return json != NULL ? req_json(r, 200, json) : req_fail(r);
}

static int
set_status(struct req *r, const char *status, const char *action)
{
	int64_t id;

	if (req_param_id_or_fail(r, "id", &id) != 0)
		return req_fail(r);
	const char *json = DB_VALUE(r, &stmt_set_status, 0, req_i64(r, id), status,
	    req_i64(r, r->id.user_id), action);
	return json != NULL ? req_json(r, 200, json) : req_fail(r);
}

/* POST /api/v1/platform/tenants/{id}/suspend */
static int
platform_suspend(struct req *r)
{
	return set_status(r, "suspended", "suspend");
}

/* POST /api/v1/platform/tenants/{id}/resume */
static int
platform_resume(struct req *r)
{
	return set_status(r, "active", "resume");
}

/* DELETE /api/v1/platform/tenants/{id}?confirm=<slug> */
static int
platform_delete(struct req *r)
{
	const char *confirm = req_query(r, "confirm"), *file;
	int64_t id;

	if (req_param_id_or_fail(r, "id", &id) != 0)
		return req_fail(r);
	const char *slug = DB_VALUE(r, &stmt_slug_of, 0, req_i64(r, id));
	if (slug == NULL)
		return req_fail(r);
	if (confirm == NULL || strcmp(confirm, slug) != 0) {
		err_field(&r->err, "confirm", confirm == NULL ? "required" : "invalid_value");
		r->err.message = "Repeat the tenant's slug in ?confirm= to delete it.";
		return req_fail(r);
	}
	if (tenants_export(r, id, &file) != 0 || tenants_drop(r, id) != 0 ||
	    DB_EXEC(r, &stmt_audit_delete, 0, req_i64(r, r->id.user_id),
	    req_i64(r, id), slug, file) == NULL)
		return req_fail(r);
	struct buf b;
	buf_init(&b, r->arena);
	buf_adds(&b, "{\"deleted\":true,\"export\":");
	buf_add_json_str(&b, file);
	buf_adds(&b, "}");
	return req_json(r, 200, buf_cstr(&b));
}

static const struct route routes[] = {
	{"POST", "/api/v1/platform/auth/login", platform_login, AUTH_NONE, NULL, ROUTE_JSON_BODY, NULL},
	{"POST", "/api/v1/platform/auth/logout", platform_logout, AUTH_PLATFORM, NULL, 0, NULL},
	{"GET", "/api/v1/platform/tenants", platform_tenants, AUTH_PLATFORM, NULL, 0, NULL},
	{"GET", "/api/v1/platform/tenants/{id}", platform_tenant, AUTH_PLATFORM, NULL, 0, NULL},
	{"POST", "/api/v1/platform/tenants/{id}/suspend", platform_suspend, AUTH_PLATFORM, NULL, 0, NULL},
	{"POST", "/api/v1/platform/tenants/{id}/resume", platform_resume, AUTH_PLATFORM, NULL, 0, NULL},
	{"DELETE", "/api/v1/platform/tenants/{id}", platform_delete, AUTH_PLATFORM, NULL, 0, NULL},
	{NULL, NULL, NULL, AUTH_NONE, NULL, 0, NULL},
};

const struct module platform_module = {"platform", routes};
