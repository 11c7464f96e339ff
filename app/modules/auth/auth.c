/* Identity calls of API.md: sign-up, login, refresh, logout, sessions,
 * password change and /me. Access tokens are tenant-scoped (audience "crm"). */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "app/core/auth.h"
#include "app/core/config.h"
#include "app/core/db.h"
#include "app/core/json.h"
#include "app/core/module.h"
#include "app/core/ratelimit.h"
#include "app/core/session.h"
#include "app/modules/auth/identity.h"
#include "tenants/tenants.h"

static const char *const locales[] = {"zh-CN", "en", NULL};

static struct db_stmt stmt_slug_exists = DB_STMT(
    "SELECT EXISTS (SELECT 1 FROM public.tenants WHERE slug = $1)", 1);
/* The user, how many tenants they belong to, the chosen tenant (the only
 * one, or the one named by slug) and the list to choose from. */
static struct db_stmt stmt_login_lookup = DB_STMT(
    "SELECT u.id, u.password_hash, "
    " (SELECT count(*) FROM public.memberships m WHERE m.user_id = u.id), "
    " c.id, "
    " (SELECT coalesce(json_agg(json_build_object('slug', t.slug, 'name', t.name) "
    "   ORDER BY t.slug), '[]') FROM public.memberships m "
    "   JOIN public.tenants t ON t.id = m.tenant_id WHERE m.user_id = u.id) "
    "FROM public.users u LEFT JOIN LATERAL ("
    " SELECT t.id FROM public.memberships m "
    " JOIN public.tenants t ON t.id = m.tenant_id "
    " WHERE m.user_id = u.id AND ($2::text IS NULL OR t.slug = $2) "
    " ORDER BY t.id LIMIT 1) c ON true "
    "WHERE u.email = $1", 2);
static struct db_stmt stmt_user_tenants = DB_STMT(
    "SELECT u.password_hash, "
    " (SELECT array_to_string(array_agg(tenant_id), ',') "
    "  FROM public.memberships WHERE user_id = u.id) "
    "FROM public.users u WHERE u.id = $1", 1);
static struct db_stmt stmt_set_password = DB_STMT(
    "UPDATE public.users SET password_hash = $2, updated_at = now() WHERE id = $1", 2);
static struct db_stmt stmt_me = DB_STMT(
    "SELECT json_build_object("
    " 'user', json_build_object('id', m.user_id, 'email', m.email, 'name', m.name, "
    "   'locale', m.locale, 'member_id', m.id), "
    " 'tenant', json_build_object('id', current_setting('crm.tenant_id')::bigint, "
    "   'slug', current_setting('crm.tenant_slug'), "
    "   'name', current_setting('crm.tenant_name'), 'status', 'active'), "
    " 'role', json_build_object('key', r.key, 'name', r.name, "
    "   'record_scope', r.record_scope), "
    " 'permissions', r.permissions) "
    "FROM members m JOIN roles r ON r.key = m.role WHERE m.user_id = $1", 1);

static bool
slug_valid(const char *slug)
{
	static regex_t re;
	static bool compiled;

	if (!compiled) {
		regcomp(&re, "^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$", REG_EXTENDED | REG_NOSUB);
		compiled = true;
	}
	return regexec(&re, slug, 0, NULL, 0) == 0;
}

/* POST /api/v1/auth/signup: a new company, its workspace and its owner. */
static int
auth_signup(struct req *r)
{
	struct tenant_owner owner = {0};
	char hash[AUTH_HASH_MAX];
	struct member_login m;
	int64_t tenant_id;

	const char *company = json_get_str(r, r->json, "company", JSON_REQUIRED, 1, 100);
	const char *slug = json_get_str(r, r->json, "slug", JSON_REQUIRED, 1, 40);
	owner.name = json_get_str(r, r->json, "name", JSON_REQUIRED, 1, 100);
	owner.email = json_get_email(r, r->json, "email", JSON_REQUIRED);
	const char *password = json_get_password(r, r->json, "password", JSON_REQUIRED);
	owner.locale = json_get_enum(r, r->json, "locale", JSON_OPTIONAL, locales);
	if (slug != NULL && !slug_valid(slug))
		err_field(&r->err, "slug", "invalid_format");
	if (json_invalid(r))
		return req_fail(r);
	if (owner.locale == NULL)
		owner.locale = "zh-CN";
	const char *limit_key = arena_printf(r->arena, "rl:signup:ip:%s",
	    r->client_ip != NULL ? r->client_ip : "-");
	if (ratelimit_check(r, limit_key, config.signups_per_ip) != 0 ||
	    ratelimit_count(r, limit_key, 3600) != 0 ||
	    identity_account_for(r, owner.email, password, ERR_EMAIL_TAKEN,
	    &owner.user_id, hash) != 0)
		return req_fail(r);
	owner.password_hash = hash;
	if (tenants_provision(r, slug, company, &owner, &tenant_id) != 0 ||
	    db_commit(r) != 0 ||
	    identity_load_member(r, tenant_id, owner.user_id, &m) != 0)
		return req_fail(r);
	return identity_answer_new_session(r, 201, &m);
}

/* GET /api/v1/auth/slug_available?slug=: for the sign-up form's live check. */
static int
auth_slug_available(struct req *r)
{
	const char *slug = req_query(r, "slug");
	struct buf b;

	if (slug == NULL || *slug == '\0') {
		err_field(&r->err, "slug", "required");
		return req_fail(r);
	}
	buf_init(&b, r->arena);
	buf_adds(&b, "{\"slug\":");
	buf_add_json_str(&b, slug);
	if (!slug_valid(slug)) {
		buf_adds(&b, ",\"available\":false,\"reason\":\"invalid_format\"}");
		return req_json(r, 200, buf_cstr(&b));
	}
	const char *taken = DB_VALUE(r, &stmt_slug_exists, DB_COMMIT, slug);
	if (taken == NULL)
		return req_fail(r);
	buf_adds(&b, *taken == 't' ? ",\"available\":false,\"reason\":\"taken\"}" :
	    ",\"available\":true}");
	return req_json(r, 200, buf_cstr(&b));
}

/* The tenant to sign in to, once the password is known to be right. */
static int
choose_tenant(struct req *r, PGresult *res, const char *slug, int64_t *tenant_id)
{
	if (slug == NULL && atoi(PQgetvalue(res, 0, 2)) > 1) {
		r->err.extra_json = arena_printf(r->arena, "\"tenants\":%s",
		    PQgetvalue(res, 0, 4));
		return err_set(&r->err, ERR_TENANT_REQUIRED, NULL);
	}
	if (PQgetisnull(res, 0, 3))	/* no membership, or not in that tenant */
		return err_set(&r->err, ERR_INVALID_CREDENTIALS, NULL);
	*tenant_id = db_int64(res, 0, 3);
	return 0;
}

/* POST /api/v1/auth/login */
static int
auth_login(struct req *r)
{
	struct member_login m;
	int64_t tenant_id = 0;

	const char *email = json_get_email(r, r->json, "email", JSON_REQUIRED);
	const char *password = json_get_str(r, r->json, "password", JSON_REQUIRED, 1, 256);
	const char *slug = json_get_str(r, r->json, "tenant", JSON_OPTIONAL, 1, 64);
	if (json_invalid(r))
		return req_fail(r);
	if (identity_check_login_limits(r, "login", email) != 0)
		return req_fail(r);
	PGresult *res = DB_EXEC(r, &stmt_login_lookup, DB_COMMIT, email, slug);
	if (res == NULL ||
	    identity_verify_password(r, "login", email, password, res) != 0)
		return req_fail(r);
	if (choose_tenant(r, res, slug, &tenant_id) != 0 ||
	    identity_load_member(r, tenant_id, db_int64(res, 0, 0), &m) != 0)
		return req_fail(r);
	return identity_answer_new_session(r, 200, &m);
}

/* POST /api/v1/auth/refresh: rotates the refresh token. */
static int
auth_refresh(struct req *r)
{
	struct session s;
	struct member_login m;

	const char *token = json_get_str(r, r->json, "refresh_token", JSON_REQUIRED, 1, 256);
	if (json_invalid(r) || session_peek(r, token, &s) != 0)
		return req_fail(r);
	if (s.tenant_id <= 0)
		return req_fail_with(r, ERR_INVALID_REFRESH_TOKEN, NULL);
	/* Checked before rotating, so that a suspended workspace keeps the
	 * session for when it is resumed. */
	if (identity_load_member(r, s.tenant_id, s.user_id, &m) != 0) {
		struct err why = r->err;

		if (why.code != ERR_TENANT_SUSPENDED && why.code != ERR_TENANT_MIGRATING &&
		    why.code != ERR_DB_UNAVAILABLE) {
			/* Disabled, or the workspace is gone: end the session. */
			r->err.code = ERR_NONE;
			session_end(r, s.tenant_id, s.user_id, s.id);
			r->err = why;
		}
		return req_fail(r);
	}
	if (session_rotate(r, token, &s) != 0)
		return req_fail(r);
	return identity_answer_tokens(r, &m, s.id, s.refresh_token);
}

/* POST /api/v1/auth/logout */
static int
auth_logout(struct req *r)
{
	if (db_check_tenant(r) != 0 ||
	    session_end(r, r->id.tenant_id, r->id.user_id, r->id.session_id) != 0)
		return req_fail(r);
	return req_no_content(r);
}

/* GET /api/v1/auth/sessions */
static int
auth_sessions(struct req *r)
{
	if (db_check_tenant(r) != 0)
		return req_fail(r);
	const char *json = session_list_json(r, r->id.tenant_id, r->id.user_id,
	    r->id.session_id);
	return json != NULL ? req_json(r, 200, json) : req_fail(r);
}

/* DELETE /api/v1/auth/sessions/{id} */
static int
auth_session_end(struct req *r)
{
	const char *sid = req_param(r, "id");

	if (db_check_tenant(r) != 0)
		return req_fail(r);
	if (strlen(sid) > 64 ||
	    session_end(r, r->id.tenant_id, r->id.user_id, sid) != 0)
		return req_fail_with(r, r->err.code != ERR_NONE ? r->err.code :
		    ERR_NOT_FOUND, NULL);
	return req_no_content(r);
}

/* Ends the user's other sessions in every tenant they belong to. */
static int
end_other_sessions(struct req *r, const char *tenant_ids)
{
	for (const char *p = tenant_ids; *p != '\0';) {
		int64_t tid = strtoll(p, NULL, 10);

		if (session_end_all(r, tid, r->id.user_id, r->id.session_id) != 0)
			return -1;
		p += strcspn(p, ",");
		p += *p == ',';
	}
	return 0;
}

/* POST /api/v1/auth/password */
static int
auth_password(struct req *r)
{
	char hash[AUTH_HASH_MAX];

	const char *current = json_get_str(r, r->json, "current_password",
	    JSON_REQUIRED, 1, 256);
	const char *next = json_get_password(r, r->json, "new_password", JSON_REQUIRED);
	/* The tenant must be active; the password itself is a platform row. */
	if (json_invalid(r) || db_check_tenant(r) != 0)
		return req_fail(r);
	PGresult *res = DB_EXEC(r, &stmt_user_tenants, 0, req_i64(r, r->id.user_id));
	if (res == NULL)
		return req_fail(r);
	if (PQntuples(res) != 1)
		return req_fail_with(r, ERR_UNAUTHORIZED, NULL);
	if (!auth_password_verify(PQgetvalue(res, 0, 0), current)) {
		err_field(&r->err, "current_password", "incorrect");
		return req_fail(r);
	}
	const char *tenant_ids = arena_strdup(r->arena, PQgetvalue(res, 0, 1));
	if (auth_password_hash(next, hash) != 0 ||
	    DB_EXEC(r, &stmt_set_password, DB_COMMIT, req_i64(r, r->id.user_id),
	    hash) == NULL ||
	    end_other_sessions(r, tenant_ids) != 0)
		return req_fail(r);
	return req_no_content(r);
}

/* GET /api/v1/me */
static int
auth_me(struct req *r)
{
	const char *json = DB_VALUE(r, &stmt_me, DB_COMMIT, req_i64(r, r->id.user_id));

	return json != NULL ? req_json(r, 200, json) : req_fail(r);
}

static const struct route routes[] = {
	{"POST", "/api/v1/auth/signup", auth_signup, AUTH_NONE, NULL, ROUTE_JSON_BODY | ROUTE_CREDENTIALS, NULL},
	{"GET", "/api/v1/auth/slug_available", auth_slug_available, AUTH_NONE, NULL, 0, NULL},
	{"POST", "/api/v1/auth/login", auth_login, AUTH_NONE, NULL, ROUTE_JSON_BODY | ROUTE_CREDENTIALS, NULL},
	{"POST", "/api/v1/auth/refresh", auth_refresh, AUTH_NONE, NULL, ROUTE_JSON_BODY | ROUTE_CREDENTIALS, NULL},
	{"POST", "/api/v1/auth/logout", auth_logout, AUTH_TENANT, NULL, 0, NULL},
	{"GET", "/api/v1/auth/sessions", auth_sessions, AUTH_TENANT, NULL, 0, NULL},
	{"DELETE", "/api/v1/auth/sessions/{id}", auth_session_end, AUTH_TENANT, NULL, 0, NULL},
	{"POST", "/api/v1/auth/password", auth_password, AUTH_TENANT, NULL,
	    ROUTE_JSON_BODY, NULL},
	{"GET", "/api/v1/me", auth_me, AUTH_TENANT, NULL, 0, NULL},
	{NULL, NULL, NULL, AUTH_NONE, NULL, 0, NULL},
};

const struct module auth_module = {"auth", routes};
