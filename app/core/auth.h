/* Credentials: Argon2id password hashes, HS256 access tokens (JWT), random
 * tokens and their hashes. Sessions live in session.h. */
#ifndef CRM_AUTH_H
#define CRM_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "req.h"

#define AUTH_AUD_TENANT "crm"
#define AUTH_AUD_PLATFORM "crm-platform"
#define AUTH_ACCESS_TTL 900	/* seconds */
#define AUTH_HASH_MAX 128	/* >= crypto_pwhash_STRBYTES */

struct token_claims {
	int64_t sub;	/* users.id or operators.id */
	int64_t tid;	/* tenant id; 0 on platform tokens */
	const char *sid;	/* session id */
	const char *role;	/* role key; "operator" on platform tokens */
	const char *aud;
	int64_t iat, exp;
};

/* sodium_init and the dummy hash; call once at start-up. */
int auth_init(void);

/* Signs claims (iat and exp are set here) into a JWT in the arena. */
const char *auth_token_issue(struct req *r, struct token_claims *c);
/* Verifies signature (constant time), algorithm, audience and expiry.
 * Fills out, or r->err with ERR_UNAUTHORIZED / ERR_TOKEN_EXPIRED. */
int auth_token_verify(struct req *r, const char *token, const char *aud,
    struct token_claims *out);

/* Argon2id; out receives the encoded hash. -1 when out of memory. */
int auth_password_hash(const char *password, char out[AUTH_HASH_MAX]);
bool auth_password_verify(const char *hash, const char *password);
/* Spends the time of a verification, so that unknown accounts answer as
 * slowly as known ones. */
void auth_password_waste(const char *password);

/* bytes of randomness, base64url without padding. */
const char *auth_random_token(struct arena *a, size_t bytes);
/* SHA-256 of s, hex: how refresh and invitation tokens are stored. */
const char *auth_sha256_hex(struct arena *a, const char *s);
/* Constant-time string equality. */
bool auth_equal(const char *a, const char *b);

#endif
