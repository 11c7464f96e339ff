/* The team of a tenant: list, invite, change (role, manager, status, name),
 * and the invitation link a new member accepts to set their password.
 * Every change writes the audit log and the outbox in its transaction. */
#include <stdlib.h>
#include <string.h>

#include "app/core/auth.h"
#include "app/core/db.h"
#include "app/core/json.h"
#include "app/core/module.h"
#include "app/core/session.h"
#include "app/modules/auth/identity.h"

#define INVITE_DAYS "7"

static struct db_stmt stmt_list = DB_STMT(
    "WITH page AS (SELECT * FROM members WHERE id > $1 ORDER BY id LIMIT $2 + 1), "
    "shown AS (SELECT * FROM page ORDER BY id LIMIT $2) "
    "SELECT json_build_object("
    " 'data', coalesce((SELECT json_agg(member_json(s) ORDER BY s.id) FROM shown s), '[]'), "
    " 'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $2 "
    "   THEN (SELECT max(id) FROM shown)::text END)", 2);
static struct db_stmt stmt_invite = DB_STMT(
    "WITH ins AS (INSERT INTO members (email, name, role, status, invite_token_hash, "
    "  invite_expires_at, invited_by) "
    " SELECT $1, $2, r.key, 'invited', $4, now() + interval '" INVITE_DAYS " days', "
    "  (SELECT id FROM members WHERE user_id = $5) "
    " FROM roles r WHERE r.key = $3 AND r.key <> 'owner' RETURNING *), "
    "aud AS (INSERT INTO audit_log (actor_user_id, object, record_id, action, new_value) "
    " SELECT $5, 'member', id, 'invite', member_json(ins) FROM ins), "
    "ob AS (INSERT INTO outbox (event, object, record_id, payload) "
    " SELECT 'member.invited', 'member', id, member_json(ins) FROM ins) "
    "SELECT member_json(ins)::text FROM ins", 5);
static struct db_stmt stmt_target = DB_STMT(
    "SELECT role, status, user_id FROM members WHERE id = $1 FOR UPDATE", 1);
/* Whether $1 is a member, and whether walking up from $1 reaches $2. */
static struct db_stmt stmt_manager_check = DB_STMT(
    "WITH RECURSIVE up AS (SELECT id, manager_id FROM members WHERE id = $1 "
    " UNION SELECT m.id, m.manager_id FROM members m JOIN up ON m.id = up.manager_id) "
    "SELECT EXISTS (SELECT 1 FROM members WHERE id = $1), "
    " EXISTS (SELECT 1 FROM up WHERE id = $2)", 2);
static struct db_stmt stmt_update = DB_STMT(
    "WITH old AS (SELECT * FROM members WHERE id = $1), "
    "upd AS (UPDATE members m SET role = coalesce($2, m.role), "
    "  manager_id = CASE WHEN $3 THEN $4::bigint ELSE m.manager_id END, "
    "  status = coalesce($5, m.status), name = coalesce($6, m.name), "
    "  version = m.version + 1, updated_at = now() "
    " FROM old WHERE m.id = old.id "
    "  AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM roles WHERE key = $2)) "
    " RETURNING m.*), "
    "aud AS (INSERT INTO audit_log (actor_user_id, object, record_id, action, field, "
    "  old_value, new_value) "
    " SELECT $7, 'member', upd.id, 'update', f.field, f.o, f.n FROM upd, old, "
    " LATERAL (VALUES ('role', to_jsonb(old.role), to_jsonb(upd.role)), "
    "  ('manager_id', to_jsonb(old.manager_id), to_jsonb(upd.manager_id)), "
    "  ('status', to_jsonb(old.status), to_jsonb(upd.status)), "
    "  ('name', to_jsonb(old.name), to_jsonb(upd.name))) f(field, o, n) "
    " WHERE f.o IS DISTINCT FROM f.n), "
    "ob AS (INSERT INTO outbox (event, object, record_id, payload) "
    " SELECT 'member.updated', 'member', id, member_json(upd) FROM upd) "
    "SELECT member_json(upd)::text FROM upd", 7);
static struct db_stmt stmt_invitation = DB_STMT(
    "SELECT json_build_object('tenant', json_build_object("
    "  'slug', current_setting('crm.tenant_slug'), "
    "  'name', current_setting('crm.tenant_name')), "
    " 'email', email, 'name', name, 'role', role)::text, id, email, name "
    "FROM members WHERE invite_token_hash = $1 AND status = 'invited' "
    " AND invite_expires_at > now()", 1);
static struct db_stmt stmt_user_insert = DB_STMT(
    "INSERT INTO public.users (email, name, password_hash) VALUES ($1, $2, $3) "
    "ON CONFLICT (email) DO NOTHING RETURNING id", 3);
static struct db_stmt stmt_membership_insert = DB_STMT(
    "INSERT INTO public.memberships (user_id, tenant_id) VALUES ($1, $2) "
    "ON CONFLICT DO NOTHING", 2);
static struct db_stmt stmt_invite_accept = DB_STMT(
    "WITH upd AS (UPDATE members SET user_id = $2, status = 'active', "
    "  name = coalesce($3, name), invite_token_hash = NULL, "
    "  version = version + 1, updated_at = now() "
    " WHERE id = $1 AND status = 'invited' RETURNING *), "
    "aud AS (INSERT INTO audit_log (actor_user_id, object, record_id, action) "
    " SELECT $2, 'member', id, 'join' FROM upd), "
    "ob AS (INSERT INTO outbox (event, object, record_id, payload) "
    " SELECT 'member.joined', 'member', id, member_json(upd) FROM upd) "
    "SELECT id FROM upd", 3);

/* GET /api/v1/members?limit=&cursor= */
static int
members_list(struct req *r)
{
	struct page page;

	if (req_page(r, &page) != 0)
		return req_fail(r);
	const char *json = DB_VALUE(r, &stmt_list, DB_COMMIT, req_i64(r, page.after),
	    req_i64(r, page.limit));
	return json != NULL ? req_json(r, 200, json) : req_fail(r);
}

/* POST /api/v1/members/invite */
static int
members_invite(struct req *r)
{
	const char *email = json_get_email(r, r->json, "email", JSON_REQUIRED);
	const char *name = json_get_str(r, r->json, "name", JSON_OPTIONAL, 1, 100);
	const char *role = json_get_str(r, r->json, "role", JSON_REQUIRED, 1, 32);
	if (json_invalid(r))
		return req_fail(r);
	if (name == NULL)
		name = arena_strndup(r->arena, email, strcspn(email, "@"));
	const char *token = arena_printf(r->arena, "%lld.%s",
	    (long long)r->id.tenant_id, auth_random_token(r->arena, 24));
	const char *member = DB_VALUE(r, &stmt_invite, 0, email, name, role,
	    auth_sha256_hex(r->arena, token), req_i64(r, r->id.user_id));
	if (member == NULL) {
		if (r->err.code == ERR_NOT_FOUND)
			err_field(&r->err, "role", "invalid_value");
		else if (db_violated(r, "members_email_key"))
			err_set(&r->err, ERR_ALREADY_MEMBER, NULL);
		return req_fail(r);
	}
	struct buf b;
	buf_init(&b, r->arena);
	buf_addf(&b, "{\"member\":%s,\"invite_token\":", member);
	buf_add_json_str(&b, token);
	/* The token rides in the fragment, which browsers never send: opening
	 * the link leaves it out of every access log. */
	buf_adds(&b, ",\"invite_url\":");
	buf_add_json_str(&b, arena_printf(r->arena, "/invite#%s", token));
	buf_adds(&b, "}");
	return req_json(r, 201, buf_cstr(&b));
}

/* The fields of a PATCH, validated. */
struct member_patch {
	const char *role, *status, *name;
	int64_t manager_id;
	bool manager_given, manager_null;
};

static int
patch_parse(struct req *r, struct member_patch *p)
{
	static const char *const statuses[] = {"active", "disabled", NULL};

	p->role = json_get_str(r, r->json, "role", JSON_OPTIONAL, 1, 32);
	p->status = json_get_enum(r, r->json, "status", JSON_OPTIONAL, statuses);
	p->name = json_get_str(r, r->json, "name", JSON_OPTIONAL, 1, 100);
	json_get_id(r, r->json, "manager_id", &p->manager_id, &p->manager_given,
	    &p->manager_null);
	return json_invalid(r) ? -1 : 0;
}

/* The rules a PATCH must keep, checked against the locked target row. */
static int
patch_allowed(struct req *r, int64_t id, const struct member_patch *p)
{
	PGresult *res = DB_EXEC(r, &stmt_target, 0, req_i64(r, id));

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0)
		return err_set(&r->err, ERR_NOT_FOUND, NULL);
	bool target_is_owner = strcmp(PQgetvalue(res, 0, 0), "owner") == 0;
	bool target_is_self = db_int64(res, 0, 2) == r->id.user_id;
	if ((p->role != NULL && strcmp(p->role, "owner") == 0) ||
	    (target_is_owner && (p->role != NULL || p->status != NULL)))
		return err_set(&r->err, ERR_FORBIDDEN, "The owner's role and status cannot be changed here.");
	if (target_is_self && p->status != NULL && strcmp(p->status, "disabled") == 0)
		return err_set(&r->err, ERR_FORBIDDEN, "You cannot disable yourself.");
	if (!p->manager_given || p->manager_null)
		return 0;
	res = DB_EXEC(r, &stmt_manager_check, 0, req_i64(r, p->manager_id),
	    req_i64(r, id));
	if (res == NULL)
		return -1;
	/* not a member, the member itself, or a cycle in the manager tree */
	if (*PQgetvalue(res, 0, 0) != 't' || p->manager_id == id ||
	    *PQgetvalue(res, 0, 1) == 't')
		return err_field(&r->err, "manager_id", "invalid_value");
	return 0;
}

/* Redis follows the committed change: a disabled member's sessions end at
 * once, a new role applies to live sessions. */
static int
apply_to_sessions(struct req *r, const cJSON *member)
{
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(member, "user_id");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(member, "status");
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(member, "role");

	if (!cJSON_IsNumber(user))
		return 0;
	int64_t uid = (int64_t)user->valuedouble;
	if (strcmp(status->valuestring, "disabled") == 0)
		return session_end_all(r, r->id.tenant_id, uid, NULL);
	return session_set_role(r, r->id.tenant_id, uid, role->valuestring);
}

/* PATCH /api/v1/members/{id} */
static int
members_update(struct req *r)
{
	struct member_patch p;
	int64_t id;

	if (req_param_id_or_fail(r, "id", &id) != 0 || patch_parse(r, &p) != 0 ||
	    patch_allowed(r, id, &p) != 0)
		return req_fail(r);
	const char *member = DB_VALUE(r, &stmt_update, 0, req_i64(r, id), p.role,
	    p.manager_given ? "true" : "false",
	    p.manager_null ? NULL : req_i64(r, p.manager_id), p.status, p.name,
	    req_i64(r, r->id.user_id));
	if (member == NULL) {
		if (r->err.code == ERR_NOT_FOUND)
			err_field(&r->err, "role", "invalid_value");
		return req_fail(r);
	}
	cJSON *parsed = json_parse_object(r->arena, &r->err, member, strlen(member));
	if (parsed == NULL || db_commit(r) != 0 || apply_to_sessions(r, parsed) != 0)
		return req_fail(r);
	return req_json(r, 200, member);
}

/* The tenant named by an invitation token "<tenant id>.<secret>". */
static int64_t
invitation_tenant(const char *token)
{
	size_t digits = strspn(token, "0123456789");

	if (digits == 0 || digits > 18 || token[digits] != '.' || strlen(token) > 128)
		return 0;
	return strtoll(token, NULL, 10);
}

/* Finds a pending invitation in its tenant (a new transaction). */
static PGresult *
find_invitation(struct req *r, const char *token)
{
	int64_t tid = invitation_tenant(token);

	if (tid <= 0) {
		err_set(&r->err, ERR_NOT_FOUND, NULL);
		return NULL;
	}
	db_begin(r, tid);
	PGresult *res = DB_EXEC(r, &stmt_invitation, DB_COMMIT,
	    auth_sha256_hex(r->arena, token));
	if (res == NULL) {
		if (r->err.code == ERR_UNAUTHORIZED)	/* the tenant is gone */
			err_set(&r->err, ERR_NOT_FOUND, NULL);
		return NULL;
	}
	if (PQntuples(res) == 0) {
		err_set(&r->err, ERR_NOT_FOUND, NULL);
		return NULL;
	}
	return res;
}

/* POST /api/v1/invitations/lookup: what the accept page shows. The token
 * comes in the body so that it never lands in an access log. */
static int
invitations_lookup(struct req *r)
{
	const char *token = json_get_str(r, r->json, "token", JSON_REQUIRED, 1, 128);

	if (json_invalid(r))
		return req_fail(r);
	PGresult *res = find_invitation(r, token);
	return res != NULL ? req_json(r, 200, PQgetvalue(res, 0, 0)) : req_fail(r);
}

/* The user behind an invited e-mail: the existing account (the password
 * must be theirs) or a new one. */
static int
invited_user(struct req *r, const char *email, const char *name,
    const char *password, int64_t *user_id)
{
	char hash[AUTH_HASH_MAX];

	if (identity_account_for(r, email, password, ERR_INVALID_CREDENTIALS,
	    user_id, hash) != 0)
		return -1;
	if (*user_id != 0)
		return 0;
	PGresult *res = DB_EXEC(r, &stmt_user_insert, 0, email, name, hash);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1)	/* created concurrently */
		return err_set(&r->err, ERR_CONFLICT, NULL);
	*user_id = db_int64(res, 0, 0);
	return 0;
}

/* POST /api/v1/invitations/accept: joins the tenant and signs in. */
static int
invitations_accept(struct req *r)
{
	struct member_login m;
	int64_t user_id = 0;

	const char *token = json_get_str(r, r->json, "token", JSON_REQUIRED, 1, 128);
	const char *name = json_get_str(r, r->json, "name", JSON_OPTIONAL, 1, 100);
	const char *password = json_get_password(r, r->json, "password", JSON_REQUIRED);
	if (json_invalid(r))
		return req_fail(r);
	PGresult *inv = find_invitation(r, token);
	if (inv == NULL)
		return req_fail(r);
	int64_t tid = invitation_tenant(token);
	const char *member_id = PQgetvalue(inv, 0, 1), *email = PQgetvalue(inv, 0, 2);
	if (invited_user(r, email, name != NULL ? name : PQgetvalue(inv, 0, 3),
	    password, &user_id) != 0 ||
	    DB_EXEC(r, &stmt_membership_insert, 0, req_i64(r, user_id),
	    req_i64(r, tid)) == NULL ||
	    db_switch_tenant(r, tid) != 0)
		return req_fail(r);
	PGresult *res = DB_EXEC(r, &stmt_invite_accept, 0, member_id,
	    req_i64(r, user_id), name);
	if (res == NULL)
		return req_fail(r);
	if (PQntuples(res) != 1)	/* accepted concurrently */
		return req_fail_with(r, ERR_NOT_FOUND, NULL);
	if (db_commit(r) != 0 || identity_load_member(r, tid, user_id, &m) != 0)
		return req_fail(r);
	return identity_answer_new_session(r, 200, &m);
}

static const struct route routes[] = {
	{"GET", "/api/v1/members", members_list, AUTH_TENANT, "members.read", 0, NULL},
	{"POST", "/api/v1/members/invite", members_invite, AUTH_TENANT,
	    "members.manage", ROUTE_JSON_BODY, NULL},
	{"PATCH", "/api/v1/members/{id}", members_update, AUTH_TENANT,
	    "members.manage", ROUTE_JSON_BODY, NULL},
	{"POST", "/api/v1/invitations/lookup", invitations_lookup, AUTH_NONE, NULL,
	    ROUTE_JSON_BODY, NULL},
	{"POST", "/api/v1/invitations/accept", invitations_accept, AUTH_NONE, NULL,
	    ROUTE_JSON_BODY | ROUTE_CREDENTIALS, NULL},
	{NULL, NULL, NULL, AUTH_NONE, NULL, 0, NULL},
};

const struct module members_module = {"members", routes};
