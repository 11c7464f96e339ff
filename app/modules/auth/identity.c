/* Members behind tokens, and token answers; see identity.h. */
#include "app/modules/auth/identity.h"

#include <stdlib.h>
#include <string.h>

#include "app/core/auth.h"
#include "app/core/config.h"
#include "app/core/db.h"
#include "app/core/ratelimit.h"
#include "app/core/session.h"

#define LOGIN_WINDOW (15 * 60)

static struct db_stmt stmt_user_by_email = DB_STMT(
    "SELECT id, password_hash FROM public.users WHERE email = $1", 1);
static struct db_stmt stmt_member_of_user = DB_STMT(
    "SELECT role, status, email, name, current_setting('crm.tenant_slug'), "
    "current_setting('crm.tenant_name') FROM members WHERE user_id = $1", 1);

int
identity_load_member(struct req *r, int64_t tenant_id, int64_t user_id,
    struct member_login *out)
{
	db_begin(r, tenant_id);
	PGresult *res = DB_EXEC(r, &stmt_member_of_user, DB_COMMIT,
	    req_i64(r, user_id));
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1)
		return err_set(&r->err, ERR_INVALID_CREDENTIALS, NULL);
	if (strcmp(PQgetvalue(res, 0, 1), "active") != 0)
		return err_set(&r->err, ERR_MEMBER_DISABLED, NULL);
	out->tenant_id = tenant_id;
	out->user_id = user_id;
	out->role = PQgetvalue(res, 0, 0);
	out->email = PQgetvalue(res, 0, 2);
	out->name = PQgetvalue(res, 0, 3);
	out->tenant_slug = PQgetvalue(res, 0, 4);
	out->tenant_name = PQgetvalue(res, 0, 5);
	return 0;
}

static const char *
token_json(struct req *r, const struct member_login *m, const char *session_id,
    const char *refresh_token)
{
	struct token_claims c = {.sub = m->user_id, .tid = m->tenant_id,
	    .sid = session_id, .role = m->role, .aud = AUTH_AUD_TENANT};
	const char *access = auth_token_issue(r, &c);
	struct buf b;

	buf_init(&b, r->arena);
	buf_addf(&b, "{\"tenant\":{\"id\":%lld,\"slug\":", (long long)m->tenant_id);
	buf_add_json_str(&b, m->tenant_slug);
	buf_adds(&b, ",\"name\":");
	buf_add_json_str(&b, m->tenant_name);
	buf_addf(&b, "},\"user\":{\"id\":%lld,\"email\":", (long long)m->user_id);
	buf_add_json_str(&b, m->email);
	buf_adds(&b, ",\"name\":");
	buf_add_json_str(&b, m->name);
	buf_adds(&b, "},\"role\":");
	buf_add_json_str(&b, m->role);
	buf_adds(&b, ",\"access_token\":");
	buf_add_json_str(&b, access);
	buf_adds(&b, ",\"refresh_token\":");
	buf_add_json_str(&b, refresh_token);
	buf_addf(&b, ",\"token_type\":\"Bearer\",\"expires_in\":%d}", AUTH_ACCESS_TTL);
	return buf_cstr(&b);
}

int
identity_answer_tokens(struct req *r, const struct member_login *m,
    const char *session_id, const char *refresh_token)
{
	return req_json(r, 200, token_json(r, m, session_id, refresh_token));
}

int
identity_answer_new_session(struct req *r, int status,
    const struct member_login *m)
{
	struct session s;

	if (session_create(r, m->tenant_id, m->user_id, m->role, &s) != 0)
		return req_fail(r);
	return req_json(r, status, token_json(r, m, s.id, s.refresh_token));
}

static const char *
email_key(struct req *r, const char *scope, const char *email)
{
	return arena_printf(r->arena, "rl:%s:e:%s", scope,
	    auth_sha256_hex(r->arena, email));
}

static const char *
ip_key(struct req *r, const char *scope)
{
	return arena_printf(r->arena, "rl:%s:ip:%s", scope,
	    r->client_ip != NULL ? r->client_ip : "-");
}

int
identity_check_login_limits(struct req *r, const char *scope, const char *email)
{
	if (ratelimit_check(r, email_key(r, scope, email),
	    config.login_fails_per_email) != 0)
		return -1;
	return ratelimit_check(r, ip_key(r, scope), config.login_fails_per_ip);
}

int
identity_verify_password(struct req *r, const char *scope, const char *email,
    const char *password, PGresult *res)
{
	bool known = PQntuples(res) == 1;

	if (!known)
		auth_password_waste(password);
	if (known && auth_password_verify(PQgetvalue(res, 0, 1), password))
		return 0;
	ratelimit_count(r, email_key(r, scope, email), LOGIN_WINDOW);
	ratelimit_count(r, ip_key(r, scope), LOGIN_WINDOW);
	/* Failing to count must not replace the answer. */
	return err_set(&r->err, ERR_INVALID_CREDENTIALS, NULL);
}

int
identity_account_for(struct req *r, const char *email, const char *password,
    enum err_code mismatch, int64_t *user_id, char hash[AUTH_HASH_MAX])
{
	PGresult *res = DB_EXEC(r, &stmt_user_by_email, 0, email);

	*user_id = 0;
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		if (!auth_password_verify(PQgetvalue(res, 0, 1), password))
			return err_set(&r->err, mismatch, NULL);
		*user_id = db_int64(res, 0, 0);
		return 0;
	}
	return auth_password_hash(password, hash) == 0 ? 0 :
	    err_set(&r->err, ERR_INTERNAL, NULL);
}
