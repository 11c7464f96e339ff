/* What the identity calls share: loading the member behind a (tenant, user)
 * pair and answering with a new session's tokens. Used by the auth and
 * members modules (sign-up, login, refresh, invitation accept). */
#ifndef CRM_IDENTITY_H
#define CRM_IDENTITY_H

#include <stdint.h>

#include "app/core/auth.h"
#include "app/core/db.h"
#include "app/core/req.h"

struct member_login {
	int64_t tenant_id, user_id;
	const char *tenant_slug, *tenant_name;
	const char *email, *name, *role;
};

/* In a new transaction, in the tenant's context (which checks the tenant is
 * active): the user's membership. ERR_MEMBER_DISABLED for a disabled member,
 * ERR_INVALID_CREDENTIALS when there is none. */
int identity_load_member(struct req *r, int64_t tenant_id, int64_t user_id,
    struct member_login *out);

/* Starts a session for m and answers with the token shape of API.md. */
int identity_answer_new_session(struct req *r, int status,
    const struct member_login *m);

/* Answers with the token shape for a session that already exists
 * (after a refresh). */
int identity_answer_tokens(struct req *r, const struct member_login *m,
    const char *session_id, const char *refresh_token);

/* Refuses (ERR_RATE_LIMITED) while the e-mail or the client address has
 * too many recent failed sign-ins in scope ("login", "op"). */
int identity_check_login_limits(struct req *r, const char *scope,
    const char *email);
/* Checks password against the account row in res (password hash in column
 * 1; no row: unknown account, which takes as long). A mismatch is counted
 * against the limits and fails with ERR_INVALID_CREDENTIALS. */
int identity_verify_password(struct req *r, const char *scope,
    const char *email, const char *password, PGresult *res);

/* The account an e-mail joins a tenant with: an existing user must give
 * their password (else fails with `mismatch`) and *user_id is set; for a
 * new one *user_id is 0 and hash receives the new password's hash. */
int identity_account_for(struct req *r, const char *email, const char *password,
    enum err_code mismatch, int64_t *user_id, char hash[AUTH_HASH_MAX]);

#endif
