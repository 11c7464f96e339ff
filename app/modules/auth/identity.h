/* What the identity calls share: loading the member behind a (tenant, user)
 * pair and answering with a new session's tokens. Used by the auth and
 * members modules (sign-up, login, refresh, invitation accept). */
#ifndef CRM_IDENTITY_H
#define CRM_IDENTITY_H

#include <stdint.h>

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

/* Counts a failed sign-in for e-mail and address; checks the limits first. */
int identity_check_login_limits(struct req *r, const char *scope,
    const char *email);
void identity_count_login_failure(struct req *r, const char *scope,
    const char *email);

#endif
