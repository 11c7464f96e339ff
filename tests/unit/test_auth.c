/* Passwords, random tokens and JWT access tokens (app/core/auth.h). */
#include "helpers.h"

#include <sodium.h>
#include <time.h>

#include "app/core/auth.h"
#include "app/core/config.h"

static const char main_key[] = "unit-test-key-0123456789abcdef-32bytes!";
static const char other_key[] = "another-key-of-the-same-length-32bytes!";

static void
use_key(const char *key)
{
	config.jwt_key_len = strlen(key);
	memcpy(config.jwt_key, key, config.jwt_key_len);
}

static int
group_setup(void **state)
{
	(void)state;
	use_key(main_key);
	return auth_init();
}

/* Every test starts with the main key, whatever the last one used. */
static int
auth_fixture_setup(void **state)
{
	use_key(main_key);
	return fixture_setup(state);
}

#define AUTH_TEST(fn) \
	cmocka_unit_test_setup_teardown(fn, auth_fixture_setup, fixture_teardown)

/* ---- passwords ---- */

static void
password_hash_then_verify_round_trip(void **state)
{
	(void)state;
	char hash[AUTH_HASH_MAX];

	assert_int_equal(auth_password_hash("correct horse battery", hash), 0);
	assert_true(auth_password_verify(hash, "correct horse battery"));
}

static void
password_hash_is_argon2id(void **state)
{
	(void)state;
	char hash[AUTH_HASH_MAX];

	assert_int_equal(auth_password_hash("some password", hash), 0);
	assert_memory_equal(hash, "$argon2id$", 10);
	assert_true(strlen(hash) < AUTH_HASH_MAX);
}

static void
password_verify_rejects_wrong_password(void **state)
{
	(void)state;
	char hash[AUTH_HASH_MAX];

	assert_int_equal(auth_password_hash("correct horse battery", hash), 0);
	assert_false(auth_password_verify(hash, "correct horse batterY"));
	assert_false(auth_password_verify(hash, "correct horse"));
	assert_false(auth_password_verify(hash, "correct horse battery "));
	assert_false(auth_password_verify(hash, ""));
}

static void
password_hashes_of_same_password_differ(void **state)
{
	(void)state;
	char a[AUTH_HASH_MAX], b[AUTH_HASH_MAX];

	assert_int_equal(auth_password_hash("same password", a), 0);
	assert_int_equal(auth_password_hash("same password", b), 0);
	assert_string_not_equal(a, b);
	assert_true(auth_password_verify(a, "same password"));
	assert_true(auth_password_verify(b, "same password"));
}

static void
password_chinese_round_trip(void **state)
{
	(void)state;
	char hash[AUTH_HASH_MAX];

	assert_int_equal(auth_password_hash("我的密码很安全", hash), 0);
	assert_true(auth_password_verify(hash, "我的密码很安全"));
	assert_false(auth_password_verify(hash, "我的密码很安"));
}

static void
password_verify_rejects_garbage_hash(void **state)
{
	(void)state;
	assert_false(auth_password_verify("", "password"));
	assert_false(auth_password_verify("not a hash", "password"));
	assert_false(auth_password_verify("$argon2id$v=19$m=1,t=1,p=1$x$y", "password"));
}

static void
password_waste_does_not_crash(void **state)
{
	(void)state;
	auth_password_waste("anything");
}

/* ---- auth_equal, sha256, random tokens ---- */

static void
equal_compares_whole_strings(void **state)
{
	(void)state;
	assert_true(auth_equal("", ""));
	assert_true(auth_equal("abc", "abc"));
	assert_false(auth_equal("abc", "abd"));
	assert_false(auth_equal("abc", "ab"));
	assert_false(auth_equal("ab", "abc"));
	assert_false(auth_equal("", "a"));
}

static void
sha256_hex_known_vectors(void **state)
{
	struct arena *a = fixture_req(state)->arena;

	assert_string_equal(auth_sha256_hex(a, "abc"),
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_string_equal(auth_sha256_hex(a, ""),
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static int
base64url_only(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

static void
random_token_has_length_and_alphabet(void **state)
{
	struct arena *a = fixture_req(state)->arena;

	for (int i = 0; i < 50; i++) {
		const char *t = auth_random_token(a, 32);

		assert_int_equal(strlen(t), 43);	/* 256 bits, no padding */
		assert_true(base64url_only(t));
	}
	assert_int_equal(strlen(auth_random_token(a, 16)), 22);
	assert_int_equal(strlen(auth_random_token(a, 64)), 86);
}

static void
random_tokens_differ(void **state)
{
	struct arena *a = fixture_req(state)->arena;

	assert_string_not_equal(auth_random_token(a, 32), auth_random_token(a, 32));
}

/* ---- JWT ---- */

static struct token_claims
sample_claims(const char *aud)
{
	return (struct token_claims){
		.sub = 7, .tid = 3, .sid = "sess-abc", .role = "owner", .aud = aud,
	};
}

static const char *
issue(void **state, const char *aud)
{
	struct token_claims c = sample_claims(aud);

	return auth_token_issue(fixture_req(state), &c);
}

static char *
b64url(struct arena *a, const void *bin, size_t n)
{
	size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = arena_alloc(a, len);

	return sodium_bin2base64(out, len, bin, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header.payload signed with HMAC-SHA256 under key, built by hand so that
 * tests can make tokens auth_token_issue never would. */
static const char *
sign(void **state, const char *key, const char *header, const char *payload)
{
	struct arena *a = fixture_req(state)->arena;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	const char *signing = arena_printf(a, "%s.%s",
	    b64url(a, header, strlen(header)), b64url(a, payload, strlen(payload)));

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing, strlen(signing));
	crypto_auth_hmacsha256_final(&st, mac);
	return arena_printf(a, "%s.%s", signing, b64url(a, mac, sizeof(mac)));
}

static const char hs256_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* A tenant payload with the given expiry. */
static const char *
payload_expiring(void **state, long long exp)
{
	return arena_printf(fixture_req(state)->arena,
	    "{\"sub\":\"7\",\"tid\":3,\"sid\":\"sess-abc\",\"role\":\"owner\","
	    "\"aud\":\"crm\",\"iat\":%lld,\"exp\":%lld}", exp - 900, exp);
}

/* Asserts auth_token_verify refuses token with code. */
static void
assert_refused(void **state, const char *token, enum err_code code)
{
	struct req *r = fixture_req(state);
	struct token_claims out;

	r->err.code = ERR_NONE;
	if (auth_token_verify(r, token, AUTH_AUD_TENANT, &out) != -1)
		fail_msg("accepted token %.80s", token);
	assert_int_equal(r->err.code, code);
}

static void
issue_then_verify_round_trip(void **state)
{
	struct req *r = fixture_req(state);
	struct token_claims in = sample_claims(AUTH_AUD_TENANT), out;
	long long now = time(NULL);
	const char *token = auth_token_issue(r, &in);

	assert_true(in.iat >= now && in.iat <= now + 1);
	assert_int_equal(in.exp, in.iat + AUTH_ACCESS_TTL);
	assert_int_equal(auth_token_verify(r, token, AUTH_AUD_TENANT, &out), 0);
	assert_int_equal(r->err.code, ERR_NONE);
	assert_int_equal(out.sub, in.sub);
	assert_int_equal(out.tid, in.tid);
	assert_string_equal(out.sid, in.sid);
	assert_string_equal(out.role, in.role);
	assert_string_equal(out.aud, AUTH_AUD_TENANT);
	assert_int_equal(out.iat, in.iat);
	assert_int_equal(out.exp, in.exp);
}

static void
issued_token_is_hs256_with_three_parts(void **state)
{
	struct arena *a = fixture_req(state)->arena;
	const char *token = issue(state, AUTH_AUD_TENANT);
	const char *dot1 = strchr(token, '.');
	const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
	unsigned char header[256];
	size_t header_len;

	assert_non_null(dot2);
	assert_null(strchr(dot2 + 1, '.'));
	assert_true(base64url_only(arena_strndup(a, token, (size_t)(dot1 - token))));
	assert_int_equal(sodium_base642bin(header, sizeof(header) - 1, token,
	    (size_t)(dot1 - token), NULL, &header_len, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	header[header_len] = '\0';
	assert_non_null(strstr((const char *)header, "\"HS256\""));
}

static void
platform_token_round_trip(void **state)
{
	struct req *r = fixture_req(state);
	struct token_claims in = {
		.sub = 1, .tid = 0, .sid = "op-sess", .role = "operator",
		.aud = AUTH_AUD_PLATFORM,
	}, out;
	const char *token = auth_token_issue(r, &in);

	assert_int_equal(auth_token_verify(r, token, AUTH_AUD_PLATFORM, &out), 0);
	assert_int_equal(out.tid, 0);
	assert_string_equal(out.role, "operator");
}

static void
wrong_audience_is_unauthorized(void **state)
{
	assert_refused(state, issue(state, AUTH_AUD_PLATFORM), ERR_UNAUTHORIZED);
	assert_refused(state, issue(state, "crm-other"), ERR_UNAUTHORIZED);
}

static void
tenant_token_is_refused_for_platform(void **state)
{
	struct req *r = fixture_req(state);
	struct token_claims out;
	const char *token = issue(state, AUTH_AUD_TENANT);

	assert_int_equal(auth_token_verify(r, token, AUTH_AUD_PLATFORM, &out), -1);
	assert_int_equal(r->err.code, ERR_UNAUTHORIZED);
}

/* A copy of token with the character at i replaced by another of the
 * base64url alphabet. */
static const char *
flip(void **state, const char *token, size_t i)
{
	char *t = arena_strdup(fixture_req(state)->arena, token);

	t[i] = t[i] == 'A' ? 'B' : 'A';
	return t;
}

static void
tampered_payload_is_unauthorized(void **state)
{
	const char *token = issue(state, AUTH_AUD_TENANT);
	size_t dot1 = (size_t)(strchr(token, '.') - token);

	assert_refused(state, flip(state, token, dot1 + 5), ERR_UNAUTHORIZED);
	assert_refused(state, flip(state, token, 3), ERR_UNAUTHORIZED);	/* header */
}

static void
swapped_payload_with_old_signature_is_unauthorized(void **state)
{
	struct arena *a = fixture_req(state)->arena;
	const char *token = issue(state, AUTH_AUD_TENANT);
	const char *sig = strrchr(token, '.');
	const char *forged = sign(state, main_key, hs256_header,
	    "{\"sub\":\"1\",\"tid\":3,\"sid\":\"sess-abc\",\"role\":\"owner\","
	    "\"aud\":\"crm\",\"iat\":1,\"exp\":99999999999}");
	const char *forged_sig = strrchr(forged, '.');

	/* the forged claims with the genuine token's signature */
	assert_refused(state, arena_printf(a, "%.*s%s", (int)(forged_sig - forged),
	    forged, sig), ERR_UNAUTHORIZED);
}

static void
tampered_signature_is_unauthorized(void **state)
{
	const char *token = issue(state, AUTH_AUD_TENANT);
	size_t sig = (size_t)(strrchr(token, '.') - token) + 1;

	assert_refused(state, flip(state, token, sig + 10), ERR_UNAUTHORIZED);
	assert_refused(state, flip(state, token, sig), ERR_UNAUTHORIZED);
}

static void
truncated_or_missing_signature_is_unauthorized(void **state)
{
	struct arena *a = fixture_req(state)->arena;
	const char *token = issue(state, AUTH_AUD_TENANT);
	size_t sig = (size_t)(strrchr(token, '.') - token) + 1;

	assert_refused(state, arena_strndup(a, token, strlen(token) - 1),
	    ERR_UNAUTHORIZED);
	assert_refused(state, arena_strndup(a, token, sig), ERR_UNAUTHORIZED);
	assert_refused(state, arena_strndup(a, token, sig - 1), ERR_UNAUTHORIZED);
	assert_refused(state, arena_printf(a, "%sAAAA", token), ERR_UNAUTHORIZED);
}

static void
token_signed_with_another_key_is_unauthorized(void **state)
{
	use_key(other_key);
	const char *token = issue(state, AUTH_AUD_TENANT);
	use_key(main_key);
	assert_refused(state, token, ERR_UNAUTHORIZED);
}

static void
hand_signed_token_verifies(void **state)
{
	/* checks the signing helper the next tests rely on */
	struct req *r = fixture_req(state);
	struct token_claims out;
	const char *token = sign(state, main_key, hs256_header,
	    payload_expiring(state, (long long)time(NULL) + 600));

	assert_int_equal(auth_token_verify(r, token, AUTH_AUD_TENANT, &out), 0);
	assert_int_equal(out.sub, 7);
	assert_string_equal(out.sid, "sess-abc");
}

static void
expired_token_is_token_expired(void **state)
{
	const char *token = sign(state, main_key, hs256_header,
	    payload_expiring(state, (long long)time(NULL) - 60));

	assert_refused(state, token, ERR_TOKEN_EXPIRED);
}

static void
token_expiring_now_is_token_expired(void **state)
{
	const char *token = sign(state, main_key, hs256_header,
	    payload_expiring(state, (long long)time(NULL)));

	assert_refused(state, token, ERR_TOKEN_EXPIRED);
}

static void
expired_token_with_bad_signature_is_unauthorized(void **state)
{
	/* expiry is only told once the signature holds */
	const char *token = sign(state, other_key, hs256_header,
	    payload_expiring(state, (long long)time(NULL) - 60));

	assert_refused(state, token, ERR_UNAUTHORIZED);
}

static void
alg_none_is_unauthorized(void **state)
{
	struct arena *a = fixture_req(state)->arena;
	const char *none = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
	const char *payload = payload_expiring(state, (long long)time(NULL) + 600);
	const char *token = arena_printf(a, "%s.%s.", b64url(a, none, strlen(none)),
	    b64url(a, payload, strlen(payload)));

	assert_refused(state, token, ERR_UNAUTHORIZED);
	/* even carrying a valid HMAC of its header and payload */
	assert_refused(state, sign(state, main_key, none, payload), ERR_UNAUTHORIZED);
}

static void
other_algorithm_is_unauthorized(void **state)
{
	const char *payload = payload_expiring(state, (long long)time(NULL) + 600);

	assert_refused(state, sign(state, main_key,
	    "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", payload), ERR_UNAUTHORIZED);
	assert_refused(state, sign(state, main_key,
	    "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload), ERR_UNAUTHORIZED);
}

static void
missing_or_bad_claims_are_unauthorized(void **state)
{
	long long exp = (long long)time(NULL) + 600;
	struct arena *a = fixture_req(state)->arena;
	const char *payloads[] = {
		/* no sid */
		arena_printf(a, "{\"sub\":\"7\",\"tid\":3,\"role\":\"owner\","
		    "\"aud\":\"crm\",\"exp\":%lld}", exp),
		/* no role */
		arena_printf(a, "{\"sub\":\"7\",\"tid\":3,\"sid\":\"s\","
		    "\"aud\":\"crm\",\"exp\":%lld}", exp),
		/* no aud */
		arena_printf(a, "{\"sub\":\"7\",\"tid\":3,\"sid\":\"s\","
		    "\"role\":\"owner\",\"exp\":%lld}", exp),
		/* no exp */
		"{\"sub\":\"7\",\"tid\":3,\"sid\":\"s\",\"role\":\"owner\",\"aud\":\"crm\"}",
		/* sub 0 */
		arena_printf(a, "{\"sub\":\"0\",\"tid\":3,\"sid\":\"s\","
		    "\"role\":\"owner\",\"aud\":\"crm\",\"exp\":%lld}", exp),
		/* sub as a number, not a string */
		arena_printf(a, "{\"sub\":7,\"tid\":3,\"sid\":\"s\","
		    "\"role\":\"owner\",\"aud\":\"crm\",\"exp\":%lld}", exp),
		/* aud as an array */
		arena_printf(a, "{\"sub\":\"7\",\"tid\":3,\"sid\":\"s\","
		    "\"role\":\"owner\",\"aud\":[\"crm\"],\"exp\":%lld}", exp),
		/* not JSON */
		"not json at all",
	};

	for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++)
		assert_refused(state, sign(state, main_key, hs256_header, payloads[i]),
		    ERR_UNAUTHORIZED);
}

static void
garbage_strings_are_unauthorized(void **state)
{
	struct arena *a = fixture_req(state)->arena;
	char *long_plain = arena_alloc(a, 5001);
	char *long_dotted = arena_alloc(a, 5001);

	memset(long_plain, 'a', 5000);
	for (int i = 0; i < 5000; i++)
		long_dotted[i] = i % 50 == 49 ? '.' : 'x';
	const char *garbage[] = {
		"", ".", "..", "...", "a.b", "a.b.c", "a.b.c.d", "Bearer a.b.c",
		"eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9..",
		"!!!.@@@.###", "\xff\xfe.\x80.\xc3", long_plain, long_dotted,
	};

	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
		assert_refused(state, garbage[i], ERR_UNAUTHORIZED);
}

static void
overlong_token_is_unauthorized(void **state)
{
	/* a validly signed token longer than 4096 bytes */
	struct buf b;

	buf_init(&b, fixture_req(state)->arena);
	buf_addf(&b, "{\"sub\":\"7\",\"tid\":3,\"sid\":\"s\",\"role\":\"owner\","
	    "\"aud\":\"crm\",\"exp\":%lld,\"pad\":\"", (long long)time(NULL) + 600);
	for (int i = 0; i < 3200; i++)
		buf_adds(&b, "p");
	buf_adds(&b, "\"}");
	assert_refused(state, sign(state, main_key, hs256_header, buf_cstr(&b)),
	    ERR_UNAUTHORIZED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		AUTH_TEST(password_hash_then_verify_round_trip),
		AUTH_TEST(password_hash_is_argon2id),
		AUTH_TEST(password_verify_rejects_wrong_password),
		AUTH_TEST(password_hashes_of_same_password_differ),
		AUTH_TEST(password_chinese_round_trip),
		AUTH_TEST(password_verify_rejects_garbage_hash),
		AUTH_TEST(password_waste_does_not_crash),
		AUTH_TEST(equal_compares_whole_strings),
		AUTH_TEST(sha256_hex_known_vectors),
		AUTH_TEST(random_token_has_length_and_alphabet),
		AUTH_TEST(random_tokens_differ),
		AUTH_TEST(issue_then_verify_round_trip),
		AUTH_TEST(issued_token_is_hs256_with_three_parts),
		AUTH_TEST(platform_token_round_trip),
		AUTH_TEST(wrong_audience_is_unauthorized),
		AUTH_TEST(tenant_token_is_refused_for_platform),
		AUTH_TEST(tampered_payload_is_unauthorized),
		AUTH_TEST(swapped_payload_with_old_signature_is_unauthorized),
		AUTH_TEST(tampered_signature_is_unauthorized),
		AUTH_TEST(truncated_or_missing_signature_is_unauthorized),
		AUTH_TEST(token_signed_with_another_key_is_unauthorized),
		AUTH_TEST(hand_signed_token_verifies),
		AUTH_TEST(expired_token_is_token_expired),
		AUTH_TEST(token_expiring_now_is_token_expired),
		AUTH_TEST(expired_token_with_bad_signature_is_unauthorized),
		AUTH_TEST(alg_none_is_unauthorized),
		AUTH_TEST(other_algorithm_is_unauthorized),
		AUTH_TEST(missing_or_bad_claims_are_unauthorized),
		AUTH_TEST(garbage_strings_are_unauthorized),
		AUTH_TEST(overlong_token_is_unauthorized),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
