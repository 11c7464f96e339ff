/* Sessions in Redis: one hash per session (who, which tenant, live role,
 * hashed refresh token), and a set of session ids per user and tenant so that
 * all of a user's sessions can be ended at once.
 *
 * A refresh token is "<session id>.<secret>"; only SHA-256(secret) is stored.
 * Rotation replaces it atomically; presenting any other secret for a live
 * session (a reused or forged token) ends that session. */
#ifndef CRM_SESSION_H
#define CRM_SESSION_H

#include <stdint.h>

#include "auth.h"
#include "req.h"

#define SESSION_TTL (30 * 24 * 3600)	/* seconds without a refresh */

struct session {
	const char *id;
	int64_t user_id, tenant_id;	/* tenant 0: an operator session */
	const char *role;
	const char *refresh_token;	/* only right after create or rotate */
};

/* Creates a session for r's client; fills out (with a refresh token). */
int session_create(struct req *r, int64_t tenant_id, int64_t user_id,
    const char *role, struct session *out);
/* Checks that the token's session is alive and belongs to it; fills r->id
 * with the live role. ERR_UNAUTHORIZED when it has ended. */
int session_check(struct req *r, const struct token_claims *c);
/* The live session a refresh token names, without rotating it (the secret
 * is not checked here). ERR_INVALID_REFRESH_TOKEN when there is none. */
int session_peek(struct req *r, const char *refresh_token, struct session *out);
/* Rotates a refresh token: fills out with the new one, or fails with
 * ERR_INVALID_REFRESH_TOKEN (ending the session on reuse). */
int session_rotate(struct req *r, const char *refresh_token, struct session *out);
/* Ends one session of the user; ERR_NOT_FOUND when it is not theirs. */
int session_end(struct req *r, int64_t tenant_id, int64_t user_id,
    const char *session_id);
/* Ends every session of the user in the tenant but keep_id (may be NULL). */
int session_end_all(struct req *r, int64_t tenant_id, int64_t user_id,
    const char *keep_id);
/* Changes the live role of every session of the user in the tenant. */
int session_set_role(struct req *r, int64_t tenant_id, int64_t user_id,
    const char *role);
/* {"data":[…]} of the user's live sessions. */
const char *session_list_json(struct req *r, int64_t tenant_id, int64_t user_id,
    const char *current_id);

#endif
