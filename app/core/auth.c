/* Passwords, access tokens and random tokens; see auth.h. */
#include "auth.h"

#include <jwt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "json.h"
#include "log.h"

static char dummy_hash[AUTH_HASH_MAX];

int
auth_init(void)
{
	if (sodium_init() < 0)
		return -1;
	return auth_password_hash("not a real password", dummy_hash);
}

int
auth_password_hash(const char *password, char out[AUTH_HASH_MAX])
{
	return crypto_pwhash_str(out, password, strlen(password),
	    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

bool
auth_password_verify(const char *hash, const char *password)
{
	return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

void
auth_password_waste(const char *password)
{
	(void)auth_password_verify(dummy_hash, password);
}

const char *
auth_random_token(struct arena *a, size_t bytes)
{
	unsigned char raw[64];
	size_t out_len = sodium_base64_ENCODED_LEN(bytes,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = arena_alloc(a, out_len);

	if (bytes > sizeof(raw))
		abort();
	randombytes_buf(raw, bytes);
	return sodium_bin2base64(out, out_len, raw, bytes,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

const char *
auth_sha256_hex(struct arena *a, const char *s)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	char *hex = arena_alloc(a, sizeof(digest) * 2 + 1);

	crypto_hash_sha256(digest, (const unsigned char *)s, strlen(s));
	return sodium_bin2hex(hex, sizeof(digest) * 2 + 1, digest, sizeof(digest));
}

bool
auth_equal(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && sodium_memcmp(a, b, n) == 0;
}

const char *
auth_token_issue(struct req *r, struct token_claims *c)
{
	jwt_t *jwt = NULL;

	c->iat = time(NULL);
	c->exp = c->iat + AUTH_ACCESS_TTL;
	if (jwt_new(&jwt) != 0)
		abort();
	jwt_add_grant(jwt, "sub", req_i64(r, c->sub));
	jwt_add_grant_int(jwt, "tid", (long)c->tid);
	jwt_add_grant(jwt, "sid", c->sid);
	jwt_add_grant(jwt, "role", c->role);
	jwt_add_grant(jwt, "aud", c->aud);
	jwt_add_grant_int(jwt, "iat", (long)c->iat);
	jwt_add_grant_int(jwt, "exp", (long)c->exp);
	jwt_set_alg(jwt, JWT_ALG_HS256, config.jwt_key, (int)config.jwt_key_len);
	char *s = jwt_encode_str(jwt);
	jwt_free(jwt);
	if (s == NULL)
		abort();
	const char *token = arena_strdup(r->arena, s);
	free(s);
	return token;
}

/* HMAC-SHA256 over "header.payload", compared in constant time with the
 * token's signature, before the token is parsed at all. */
static bool
signature_valid(const char *token)
{
	const char *last_dot = strrchr(token, '.');
	unsigned char mac[crypto_auth_hmacsha256_BYTES], given[64];
	size_t given_len = 0;
	crypto_auth_hmacsha256_state st;

	if (last_dot == NULL || strchr(token, '.') == last_dot)
		return false;
	if (sodium_base642bin(given, sizeof(given), last_dot + 1,
	    strlen(last_dot + 1), NULL, &given_len, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    given_len != sizeof(mac))
		return false;
	crypto_auth_hmacsha256_init(&st, config.jwt_key, config.jwt_key_len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)token,
	    (unsigned long long)(last_dot - token));
	crypto_auth_hmacsha256_final(&st, mac);
	return sodium_memcmp(mac, given, sizeof(mac)) == 0;
}

/* Decodes one base64url segment of a token into the arena as a C string. */
static const char *
segment(struct req *r, const char *from, size_t len)
{
	char *out = arena_alloc(r->arena, len + 1);
	size_t out_len = 0;

	if (sodium_base642bin((unsigned char *)out, len, from, len, NULL, &out_len,
	    NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return NULL;
	out[out_len] = '\0';
	return out;
}

/* A string member of a claims object, or NULL. */
static const char *
claim_str(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static int64_t
claim_int(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(item) ? (int64_t)item->valuedouble : 0;
}

/* Tokens are issued with libjwt; verification is ours, because it runs on
 * every request: the HMAC once, compared in constant time, then the two
 * JSON segments parsed with cJSON. */
int
auth_token_verify(struct req *r, const char *token, const char *aud,
    struct token_claims *out)
{
	const char *dot1 = strchr(token, '.');
	const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
	struct err ignored = {0};

	if (strlen(token) > 4096 || dot2 == NULL || !signature_valid(token))
		return err_set(&r->err, ERR_UNAUTHORIZED, "The access token is not valid.");
	const char *header = segment(r, token, (size_t)(dot1 - token));
	const char *payload = segment(r, dot1 + 1, (size_t)(dot2 - dot1 - 1));
	cJSON *h = header != NULL ?
	    json_parse_object(r->arena, &ignored, header, strlen(header)) : NULL;
	cJSON *c = payload != NULL ?
	    json_parse_object(r->arena, &ignored, payload, strlen(payload)) : NULL;
	const char *alg = claim_str(h, "alg"), *sub = claim_str(c, "sub");
	out->sid = claim_str(c, "sid");
	out->role = claim_str(c, "role");
	out->aud = claim_str(c, "aud");
	out->tid = claim_int(c, "tid");
	out->iat = claim_int(c, "iat");
	out->exp = claim_int(c, "exp");
	out->sub = sub != NULL ? strtoll(sub, NULL, 10) : 0;
	if (alg == NULL || strcmp(alg, "HS256") != 0 || out->sub <= 0 ||
	    out->sid == NULL || out->role == NULL || out->aud == NULL ||
	    strcmp(out->aud, aud) != 0 || out->exp <= 0)
		return err_set(&r->err, ERR_UNAUTHORIZED, "The access token is not valid.");
	if (out->exp <= time(NULL))
		return err_set(&r->err, ERR_TOKEN_EXPIRED, NULL);
	return 0;
}
