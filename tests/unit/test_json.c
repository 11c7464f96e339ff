/* JSON bodies within limits and the validating getters (app/core/json.h). */
#include "helpers.h"

#include "app/core/json.h"

/* json_parse_object on the first len bytes of text. */
static cJSON *
parse_n(void **state, const char *text, size_t len)
{
	struct req *r = fixture_req(state);

	return json_parse_object(r->arena, &r->err, text, len);
}

static cJSON *
parse(void **state, const char *text)
{
	return parse_n(state, text, strlen(text));
}

/* Asserts text is rejected as invalid JSON. */
static void
assert_rejected(void **state, const char *text)
{
	struct req *r = fixture_req(state);

	r->err.code = ERR_NONE;
	if (parse(state, text) != NULL)
		fail_msg("accepted %.60s", text);
	assert_int_equal(r->err.code, ERR_INVALID_JSON);
}

/* An object parsed for the getters; fails the test if it does not parse. */
static const cJSON *
object(void **state, const char *text)
{
	cJSON *o = parse(state, text);

	assert_non_null(o);
	assert_int_equal(fixture_req(state)->err.code, ERR_NONE);
	return o;
}

/* depth objects nested in one another: {"a":{"a":...inner...}}, the
 * innermost being `inner` (an object literal). */
static const char *
nested(void **state, int depth, const char *inner)
{
	struct buf b;

	buf_init(&b, fixture_req(state)->arena);
	for (int i = 1; i < depth; i++)
		buf_adds(&b, "{\"a\":");
	buf_adds(&b, inner);
	for (int i = 1; i < depth; i++)
		buf_adds(&b, "}");
	return buf_cstr(&b);
}

/* A JSON object {"s":"xxx…"} whose string has n bytes. */
static const char *
object_with_string_of(void **state, size_t n, char fill)
{
	char *text = arena_alloc(fixture_req(state)->arena, n + 16);

	strcpy(text, "{\"s\":\"");
	memset(text + 6, fill, n);
	strcpy(text + 6 + n, "\"}");
	return text;
}

/* ---- parsing and limits ---- */

static void
parse_accepts_an_object(void **state)
{
	cJSON *o = parse(state, "{\"name\":\"张三\",\"n\":1,\"list\":[1,2],\"o\":{}}");

	assert_non_null(o);
	assert_true(cJSON_IsObject(o));
	assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, "张三");
}

static void
parse_accepts_an_empty_object(void **state)
{
	assert_non_null(parse(state, "{}"));
}

static void
depth_32_is_accepted(void **state)
{
	assert_non_null(parse(state, nested(state, 32, "{}")));
}

static void
depth_32_with_a_value_inside_is_accepted(void **state)
{
	/* 32 nested objects, the innermost holding a scalar: still depth 32 */
	const char *text = nested(state, 32, "{\"x\":1}");

	if (parse(state, text) == NULL)
		fail_msg("rejected 32 nested objects holding \"x\":1");
}

static void
depth_32_with_an_empty_array_inside_is_accepted(void **state)
{
	/* 31 objects and an empty array: 32 containers */
	assert_non_null(parse(state, nested(state, 31, "{\"x\":[]}")));
}

static void
depth_33_is_rejected(void **state)
{
	assert_rejected(state, nested(state, 33, "{}"));
}

static void
depth_33_with_arrays_is_rejected(void **state)
{
	struct buf b;

	buf_init(&b, fixture_req(state)->arena);
	buf_adds(&b, "{\"a\":");
	for (int i = 0; i < 32; i++)
		buf_adds(&b, "[");
	for (int i = 0; i < 32; i++)
		buf_adds(&b, "]");
	buf_adds(&b, "}");
	assert_rejected(state, buf_cstr(&b));
}

static void
depth_1000_is_rejected(void **state)
{
	assert_rejected(state, nested(state, 1000, "{}"));
}

static void
non_object_root_is_rejected(void **state)
{
	assert_rejected(state, "[]");
	assert_rejected(state, "[{}]");
	assert_rejected(state, "1");
	assert_rejected(state, "\"text\"");
	assert_rejected(state, "null");
	assert_rejected(state, "true");
}

static void
malformed_json_is_rejected(void **state)
{
	assert_rejected(state, "{");
	assert_rejected(state, "{\"a\":}");
	assert_rejected(state, "{\"a\":1,}");
	assert_rejected(state, "{'a':1}");
	assert_rejected(state, "{a:1}");
	assert_rejected(state, "{\"a\":\"unterminated}");
}

static void
trailing_garbage_is_rejected(void **state)
{
	assert_rejected(state, "{} x");
	assert_rejected(state, "{}{}");
	assert_rejected(state, "{}]");
	assert_rejected(state, "{\"a\":1}1");
}

static void
trailing_and_leading_whitespace_is_accepted(void **state)
{
	assert_non_null(parse(state, "{\"a\":1} \n\t\r "));
	assert_non_null(parse(state, " \n{\"a\":1}"));
}

static void
only_len_bytes_are_read(void **state)
{
	const char text[] = "{\"a\":1}garbage";

	assert_non_null(parse_n(state, text, 7));
}

static void
empty_body_is_rejected(void **state)
{
	struct req *r = fixture_req(state);

	assert_null(parse_n(state, "", 0));
	assert_int_equal(r->err.code, ERR_INVALID_JSON);
	assert_rejected(state, "   ");
}

static void
invalid_utf8_in_a_string_is_rejected(void **state)
{
	assert_rejected(state, "{\"a\":\"\xff\"}");
	assert_rejected(state, "{\"a\":\"x\x80y\"}");	/* lone continuation */
	assert_rejected(state, "{\"a\":\"\xe4\xb8\"}");	/* truncated 中 */
	assert_rejected(state, "{\"a\":\"\xc0\xaf\"}");	/* overlong '/' */
	assert_rejected(state, "{\"a\":[\"ok\",\"\xfe\"]}");	/* inside an array */
	assert_rejected(state, "{\"a\":{\"b\":\"\xc3\"}}");	/* nested */
}

static void
invalid_utf8_in_a_key_is_rejected(void **state)
{
	assert_rejected(state, "{\"\xff\":1}");
	assert_rejected(state, "{\"a\":{\"k\xe4\xb8\":1}}");
}

static void
overlong_three_byte_utf8_is_rejected(void **state)
{
	assert_rejected(state, "{\"a\":\"\xe0\x80\xaf\"}");	/* '/' in 3 bytes */
}

static void
overlong_four_byte_utf8_is_rejected(void **state)
{
	assert_rejected(state, "{\"a\":\"\xf0\x80\x80\xaf\"}");	/* '/' in 4 bytes */
}

static void
utf8_encoded_surrogate_is_rejected(void **state)
{
	assert_rejected(state, "{\"a\":\"\xed\xa0\x80\"}");	/* U+D800 */
}

static void
utf8_above_u10ffff_is_rejected(void **state)
{
	assert_rejected(state, "{\"a\":\"\xf4\x90\x80\x80\"}");	/* U+110000 */
}

static void
lone_surrogate_escape_is_rejected(void **state)
{
	assert_rejected(state, "{\"a\":\"\\ud800\"}");
	assert_rejected(state, "{\"a\":\"\\udc00\"}");
}

static void
escaped_chinese_is_accepted(void **state)
{
	cJSON *o = parse(state, "{\"a\":\"\\u4e2d\\u6587\"}");

	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "a")->valuestring, "中文");
}

static void
string_of_64_kib_is_accepted(void **state)
{
	assert_non_null(parse(state, object_with_string_of(state, JSON_MAX_STRING, 'x')));
}

static void
string_over_64_kib_is_rejected(void **state)
{
	assert_rejected(state, object_with_string_of(state, JSON_MAX_STRING + 1, 'x'));
}

static void
key_over_256_bytes_is_rejected(void **state)
{
	char text[300];

	strcpy(text, "{\"");
	memset(text + 2, 'k', 257);
	strcpy(text + 2 + 257, "\":1}");
	assert_rejected(state, text);
}

static void
utf8_length_counts_code_points(void **state)
{
	(void)state;
	assert_int_equal(utf8_length(""), 0);
	assert_int_equal(utf8_length("abc"), 3);
	assert_int_equal(utf8_length("张三"), 2);
	assert_int_equal(utf8_length("a😀"), 2);
	assert_int_equal(utf8_length("\xe4\xb8"), (size_t)-1);
}

/* ---- json_get_str ---- */

static void
get_str_trims_white_space(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"name\":\"  \\t张三 \\n\"}");

	assert_string_equal(json_get_str(r, o, "name", JSON_REQUIRED, 1, 100), "张三");
	assert_false(json_invalid(r));
}

static void
get_str_max_counts_code_points(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"name\":\"张三\"}");	/* 6 bytes */

	assert_string_equal(json_get_str(r, o, "name", JSON_REQUIRED, 2, 2), "张三");
	assert_int_equal(r->err.code, ERR_NONE);
}

static void
get_str_over_max_is_too_long(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"name\":\"张三丰\"}");

	assert_null(json_get_str(r, o, "name", JSON_REQUIRED, 1, 2));
	assert_int_equal(r->err.code, ERR_VALIDATION_FAILED);
	assert_true(has_field_error(r, "name", "too_long"));
}

static void
get_str_under_min_is_too_short(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"name\":\"张三\"}");

	assert_null(json_get_str(r, o, "name", JSON_REQUIRED, 3, 10));
	assert_true(has_field_error(r, "name", "too_short"));
}

static void
get_str_length_is_measured_after_trimming(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"name\":\"   ab   \"}");

	assert_string_equal(json_get_str(r, o, "name", JSON_REQUIRED, 1, 2), "ab");
}

static void
get_str_required_absent_records_required(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"other\":\"x\"}");

	assert_null(json_get_str(r, o, "name", JSON_REQUIRED, 1, 10));
	assert_int_equal(r->err.code, ERR_VALIDATION_FAILED);
	assert_int_equal(r->err.nfields, 1);
	assert_true(has_field_error(r, "name", "required"));
}

static void
get_str_required_blank_records_required(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"name\":\"   \"}");

	assert_null(json_get_str(r, o, "name", JSON_REQUIRED, 1, 10));
	assert_true(has_field_error(r, "name", "required"));
}

static void
get_str_required_null_records_an_error(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"name\":null}");

	assert_null(json_get_str(r, o, "name", JSON_REQUIRED, 1, 10));
	assert_int_equal(r->err.code, ERR_VALIDATION_FAILED);
	assert_int_equal(r->err.nfields, 1);
}

static void
get_str_optional_absent_is_no_error(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{}");

	assert_null(json_get_str(r, o, "name", JSON_OPTIONAL, 1, 10));
	assert_int_equal(r->err.code, ERR_NONE);
	assert_false(json_invalid(r));
}

static void
get_str_optional_null_is_no_error(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"name\":null}");

	assert_null(json_get_str(r, o, "name", JSON_OPTIONAL, 1, 10));
	assert_int_equal(r->err.code, ERR_NONE);
}

static void
get_str_optional_present_is_validated(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"name\":\"toolong\"}");

	assert_null(json_get_str(r, o, "name", JSON_OPTIONAL, 1, 3));
	assert_true(has_field_error(r, "name", "too_long"));
}

static void
get_str_wrong_type_is_invalid_type(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state,
	    "{\"n\":1,\"b\":true,\"o\":{},\"a\":[\"x\"]}");

	assert_null(json_get_str(r, o, "n", JSON_REQUIRED, 0, 10));
	assert_null(json_get_str(r, o, "b", JSON_OPTIONAL, 0, 10));
	assert_null(json_get_str(r, o, "o", JSON_REQUIRED, 0, 10));
	assert_null(json_get_str(r, o, "a", JSON_REQUIRED, 0, 10));
	assert_int_equal(r->err.nfields, 4);
	assert_true(has_field_error(r, "n", "invalid_type"));
	assert_true(has_field_error(r, "b", "invalid_type"));
	assert_true(has_field_error(r, "o", "invalid_type"));
	assert_true(has_field_error(r, "a", "invalid_type"));
}

static void
get_str_key_is_case_sensitive(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"Name\":\"x\"}");

	assert_null(json_get_str(r, o, "name", JSON_REQUIRED, 1, 10));
	assert_true(has_field_error(r, "name", "required"));
}

/* ---- json_get_email ---- */

static void
get_email_lower_cases_and_trims(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"email\":\" Alice.Smith@Example.COM \"}");

	assert_string_equal(json_get_email(r, o, "email", JSON_REQUIRED),
	    "alice.smith@example.com");
	assert_int_equal(r->err.code, ERR_NONE);
}

static void
get_email_rejects_bad_addresses(void **state)
{
	static const char *const bad[] = {
		"alice", "@example.com", "alice@", "alice@example",
		"a@@example.com", "a@b@example.com", "a b@example.com",
		"alice@example.", "alice@.com", "<a@example.com>",
		"a,b@example.com", "\\\"a\\\"@example.com",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct req *r = fixture_req(state);
		char text[128];

		memset(&r->err, 0, sizeof(r->err));
		snprintf(text, sizeof(text), "{\"email\":\"%s\"}", bad[i]);
		const cJSON *o = object(state, text);
		const char *got = json_get_email(r, o, "email", JSON_REQUIRED);
		if (got != NULL)
			fail_msg("accepted bad address %s as %s", bad[i], got);
		assert_true(has_field_error(r, "email", "invalid_format"));
	}
}

static void
get_email_accepts_plus_and_subdomains(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"email\":\"a+tag@mail.example.co.uk\"}");

	assert_string_equal(json_get_email(r, o, "email", JSON_REQUIRED),
	    "a+tag@mail.example.co.uk");
}

static void
get_email_over_254_is_too_long(void **state)
{
	struct req *r = fixture_req(state);
	char text[400], local[251];

	memset(local, 'a', 250);
	local[250] = '\0';
	snprintf(text, sizeof(text), "{\"email\":\"%s@b.cn\"}", local);	/* 255 */
	const cJSON *o = object(state, text);
	assert_null(json_get_email(r, o, "email", JSON_REQUIRED));
	assert_true(has_field_error(r, "email", "too_long"));
}

static void
get_email_required_absent_records_required(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{}");

	assert_null(json_get_email(r, o, "email", JSON_REQUIRED));
	assert_true(has_field_error(r, "email", "required"));
}

/* ---- json_get_password ---- */

static void
get_password_is_not_trimmed(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"password\":\"  pass word  \"}");

	assert_string_equal(json_get_password(r, o, "password", JSON_REQUIRED),
	    "  pass word  ");
}

static void
get_password_of_7_is_too_short(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"password\":\"1234567\"}");

	assert_null(json_get_password(r, o, "password", JSON_REQUIRED));
	assert_true(has_field_error(r, "password", "too_short"));
}

static void
get_password_of_8_is_accepted(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"password\":\"12345678\"}");

	assert_string_equal(json_get_password(r, o, "password", JSON_REQUIRED),
	    "12345678");
}

static void
get_password_counts_code_points(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"a\":\"密码密码密码密码\",\"b\":\"密码密码\"}");

	assert_string_equal(json_get_password(r, o, "a", JSON_REQUIRED),
	    "密码密码密码密码");
	assert_null(json_get_password(r, o, "b", JSON_REQUIRED));	/* 12 bytes, 4 chars */
	assert_true(has_field_error(r, "b", "too_short"));
}

static void
get_password_of_256_is_accepted_257_is_too_long(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *ok = object(state, object_with_string_of(state, 256, 'p'));
	const cJSON *bad = object(state, object_with_string_of(state, 257, 'p'));

	assert_non_null(json_get_password(r, ok, "s", JSON_REQUIRED));
	assert_null(json_get_password(r, bad, "s", JSON_REQUIRED));
	assert_true(has_field_error(r, "s", "too_long"));
}

static void
get_password_wrong_type_is_invalid_type(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"password\":12345678}");

	assert_null(json_get_password(r, o, "password", JSON_REQUIRED));
	assert_true(has_field_error(r, "password", "invalid_type"));
}

/* ---- json_get_enum ---- */

static const char *const roles[] = {"owner", "admin", "sales", NULL};

static void
get_enum_returns_the_choice(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"role\":\" sales \"}");

	assert_ptr_equal(json_get_enum(r, o, "role", JSON_REQUIRED, roles), roles[2]);
	assert_int_equal(r->err.code, ERR_NONE);
}

static void
get_enum_unknown_value_is_invalid_value(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"role\":\"Sales\",\"r2\":\"sale\"}");

	assert_null(json_get_enum(r, o, "role", JSON_REQUIRED, roles));
	assert_null(json_get_enum(r, o, "r2", JSON_REQUIRED, roles));
	assert_true(has_field_error(r, "role", "invalid_value"));
	assert_true(has_field_error(r, "r2", "invalid_value"));
}

static void
get_enum_optional_absent_is_no_error(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{}");

	assert_null(json_get_enum(r, o, "role", JSON_OPTIONAL, roles));
	assert_int_equal(r->err.code, ERR_NONE);
}

static void
get_enum_wrong_type_is_invalid_type(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"role\":1}");

	assert_null(json_get_enum(r, o, "role", JSON_REQUIRED, roles));
	assert_true(has_field_error(r, "role", "invalid_type"));
}

/* ---- json_get_id ---- */

/* json_get_id on {"id": literal}; returns its result. */
static int
get_id(void **state, const char *literal, int64_t *out)
{
	struct req *r = fixture_req(state);
	char text[128];
	bool present, is_null;

	snprintf(text, sizeof(text), "{\"id\":%s}", literal);
	const cJSON *o = object(state, text);
	int rc = json_get_id(r, o, "id", out, &present, &is_null);
	assert_true(present);
	return rc;
}

static void
get_id_accepts_positive_integers(void **state)
{
	struct req *r = fixture_req(state);
	int64_t v;

	assert_int_equal(get_id(state, "1", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(get_id(state, "42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(get_id(state, "9007199254740991", &v), 0);	/* 2^53-1 */
	assert_int_equal(v, INT64_C(9007199254740991));
	assert_int_equal(r->err.code, ERR_NONE);
}

static void
get_id_rejects_non_positive_and_fractions(void **state)
{
	static const char *const bad[] = {
		"0", "-1", "-0", "1.5", "0.5", "\"5\"", "true", "[1]", "{}",
		"9007199254740992", "1e300",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct req *r = fixture_req(state);
		int64_t v = 99;

		memset(&r->err, 0, sizeof(r->err));
		if (get_id(state, bad[i], &v) != -1)
			fail_msg("accepted id %s as %lld", bad[i], (long long)v);
		assert_true(has_field_error(r, "id", "invalid_type"));
		assert_int_equal(v, 0);
	}
}

static void
get_id_absent_is_not_present(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{}");
	int64_t v = 5;
	bool present = true, is_null = true;

	assert_int_equal(json_get_id(r, o, "id", &v, &present, &is_null), 0);
	assert_false(present);
	assert_false(is_null);
	assert_int_equal(v, 0);
	assert_int_equal(r->err.code, ERR_NONE);
}

static void
get_id_null_is_present_and_null(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"id\":null}");
	int64_t v = 5;
	bool present = false, is_null = false;

	assert_int_equal(json_get_id(r, o, "id", &v, &present, &is_null), 0);
	assert_true(present);
	assert_true(is_null);
	assert_int_equal(v, 0);
	assert_int_equal(r->err.code, ERR_NONE);
}

/* ---- errors accumulate ---- */

static void
field_errors_accumulate(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state,
	    "{\"email\":\"nope\",\"password\":\"short\",\"role\":\"king\",\"id\":-3}");
	int64_t id;
	bool present, is_null;

	assert_false(json_invalid(r));
	json_get_str(r, o, "name", JSON_REQUIRED, 1, 100);
	json_get_email(r, o, "email", JSON_REQUIRED);
	json_get_password(r, o, "password", JSON_REQUIRED);
	json_get_enum(r, o, "role", JSON_REQUIRED, roles);
	json_get_id(r, o, "id", &id, &present, &is_null);
	assert_true(json_invalid(r));
	assert_int_equal(r->err.code, ERR_VALIDATION_FAILED);
	assert_int_equal(r->err.nfields, 5);
	assert_true(has_field_error(r, "name", "required"));
	assert_true(has_field_error(r, "email", "invalid_format"));
	assert_true(has_field_error(r, "password", "too_short"));
	assert_true(has_field_error(r, "role", "invalid_value"));
	assert_true(has_field_error(r, "id", "invalid_type"));
}

static void
valid_fields_add_no_error_between_bad_ones(void **state)
{
	struct req *r = fixture_req(state);
	const cJSON *o = object(state, "{\"a\":\"ok\",\"b\":1}");

	json_get_str(r, o, "b", JSON_REQUIRED, 1, 10);
	assert_non_null(json_get_str(r, o, "a", JSON_REQUIRED, 1, 10));
	json_get_str(r, o, "c", JSON_REQUIRED, 1, 10);
	assert_int_equal(r->err.nfields, 2);
	assert_string_equal(r->err.fields[0].name, "b");
	assert_string_equal(r->err.fields[1].name, "c");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(parse_accepts_an_object),
		FIXTURE_TEST(parse_accepts_an_empty_object),
		FIXTURE_TEST(depth_32_is_accepted),
		FIXTURE_TEST(depth_32_with_a_value_inside_is_accepted),
		FIXTURE_TEST(depth_32_with_an_empty_array_inside_is_accepted),
		FIXTURE_TEST(depth_33_is_rejected),
		FIXTURE_TEST(depth_33_with_arrays_is_rejected),
		FIXTURE_TEST(depth_1000_is_rejected),
		FIXTURE_TEST(non_object_root_is_rejected),
		FIXTURE_TEST(malformed_json_is_rejected),
		FIXTURE_TEST(trailing_garbage_is_rejected),
		FIXTURE_TEST(trailing_and_leading_whitespace_is_accepted),
		FIXTURE_TEST(only_len_bytes_are_read),
		FIXTURE_TEST(empty_body_is_rejected),
		FIXTURE_TEST(invalid_utf8_in_a_string_is_rejected),
		FIXTURE_TEST(invalid_utf8_in_a_key_is_rejected),
		FIXTURE_TEST(overlong_three_byte_utf8_is_rejected),
		FIXTURE_TEST(overlong_four_byte_utf8_is_rejected),
		FIXTURE_TEST(utf8_encoded_surrogate_is_rejected),
		FIXTURE_TEST(utf8_above_u10ffff_is_rejected),
		FIXTURE_TEST(lone_surrogate_escape_is_rejected),
		FIXTURE_TEST(escaped_chinese_is_accepted),
		FIXTURE_TEST(string_of_64_kib_is_accepted),
		FIXTURE_TEST(string_over_64_kib_is_rejected),
		FIXTURE_TEST(key_over_256_bytes_is_rejected),
		FIXTURE_TEST(utf8_length_counts_code_points),
		FIXTURE_TEST(get_str_trims_white_space),
		FIXTURE_TEST(get_str_max_counts_code_points),
		FIXTURE_TEST(get_str_over_max_is_too_long),
		FIXTURE_TEST(get_str_under_min_is_too_short),
		FIXTURE_TEST(get_str_length_is_measured_after_trimming),
		FIXTURE_TEST(get_str_required_absent_records_required),
		FIXTURE_TEST(get_str_required_blank_records_required),
		FIXTURE_TEST(get_str_required_null_records_an_error),
		FIXTURE_TEST(get_str_optional_absent_is_no_error),
		FIXTURE_TEST(get_str_optional_null_is_no_error),
		FIXTURE_TEST(get_str_optional_present_is_validated),
		FIXTURE_TEST(get_str_wrong_type_is_invalid_type),
		FIXTURE_TEST(get_str_key_is_case_sensitive),
		FIXTURE_TEST(get_email_lower_cases_and_trims),
		FIXTURE_TEST(get_email_rejects_bad_addresses),
		FIXTURE_TEST(get_email_accepts_plus_and_subdomains),
		FIXTURE_TEST(get_email_over_254_is_too_long),
		FIXTURE_TEST(get_email_required_absent_records_required),
		FIXTURE_TEST(get_password_is_not_trimmed),
		FIXTURE_TEST(get_password_of_7_is_too_short),
		FIXTURE_TEST(get_password_of_8_is_accepted),
		FIXTURE_TEST(get_password_counts_code_points),
		FIXTURE_TEST(get_password_of_256_is_accepted_257_is_too_long),
		FIXTURE_TEST(get_password_wrong_type_is_invalid_type),
		FIXTURE_TEST(get_enum_returns_the_choice),
		FIXTURE_TEST(get_enum_unknown_value_is_invalid_value),
		FIXTURE_TEST(get_enum_optional_absent_is_no_error),
		FIXTURE_TEST(get_enum_wrong_type_is_invalid_type),
		FIXTURE_TEST(get_id_accepts_positive_integers),
		FIXTURE_TEST(get_id_rejects_non_positive_and_fractions),
		FIXTURE_TEST(get_id_absent_is_not_present),
		FIXTURE_TEST(get_id_null_is_present_and_null),
		FIXTURE_TEST(field_errors_accumulate),
		FIXTURE_TEST(valid_fields_add_no_error_between_bad_ones),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
