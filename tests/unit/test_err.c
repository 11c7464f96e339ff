/* The error table and field errors (app/core/err.h). */
#include "helpers.h"

#include "app/core/err.h"

static int
status_in_api(int status)
{
	static const int statuses[] = {
		400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 429, 500, 503,
	};

	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i] == status)
			return 1;
	return 0;
}

static int
snake_case(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
			return 0;
	return 1;
}

static void
every_code_has_a_snake_case_name(void **state)
{
	(void)state;
	for (int c = 1; c < ERR__COUNT; c++) {
		const char *name = err_name((enum err_code)c);

		if (name == NULL || *name == '\0' || !snake_case(name))
			fail_msg("code %d has name %s", c, name ? name : "(null)");
	}
}

static void
every_code_has_an_api_status(void **state)
{
	(void)state;
	for (int c = 1; c < ERR__COUNT; c++)
		if (!status_in_api(err_status((enum err_code)c)))
			fail_msg("code %d (%s) has status %d", c,
			    err_name((enum err_code)c), err_status((enum err_code)c));
}

static void
every_code_has_a_message(void **state)
{
	(void)state;
	for (int c = 1; c < ERR__COUNT; c++) {
		const char *m = err_default_message((enum err_code)c);

		if (m == NULL || *m == '\0')
			fail_msg("code %d (%s) has no message", c, err_name((enum err_code)c));
	}
}

static void
names_are_unique(void **state)
{
	(void)state;
	for (int a = 1; a < ERR__COUNT; a++)
		for (int b = a + 1; b < ERR__COUNT; b++)
			if (strcmp(err_name((enum err_code)a), err_name((enum err_code)b)) == 0)
				fail_msg("codes %d and %d share the name %s", a, b,
				    err_name((enum err_code)a));
}

static void
server_errors_log_as_errors_client_errors_below(void **state)
{
	(void)state;
	for (int c = 1; c < ERR__COUNT; c++) {
		enum err_code code = (enum err_code)c;

		if (err_status(code) == 500)
			assert_int_equal(err_log_level(code), LOG_ERROR);
		else if (err_status(code) < 500)
			assert_true(err_log_level(code) <= LOG_INFO);
		else
			assert_true(err_log_level(code) >= LOG_WARN);
	}
}

static void
specific_mappings(void **state)
{
	(void)state;
	assert_int_equal(err_status(ERR_VALIDATION_FAILED), 422);
	assert_string_equal(err_name(ERR_VALIDATION_FAILED), "validation_failed");
	assert_int_equal(err_status(ERR_RATE_LIMITED), 429);
	assert_string_equal(err_name(ERR_RATE_LIMITED), "rate_limited");
	assert_int_equal(err_status(ERR_DB_UNAVAILABLE), 503);
	assert_string_equal(err_name(ERR_DB_UNAVAILABLE), "db_unavailable");
	assert_int_equal(err_status(ERR_REDIS_UNAVAILABLE), 503);
	assert_int_equal(err_status(ERR_INVALID_JSON), 400);
	assert_string_equal(err_name(ERR_INVALID_JSON), "invalid_json");
	assert_int_equal(err_status(ERR_UNAUTHORIZED), 401);
	assert_int_equal(err_status(ERR_TOKEN_EXPIRED), 401);
	assert_string_equal(err_name(ERR_TOKEN_EXPIRED), "token_expired");
	assert_int_equal(err_status(ERR_NOT_FOUND), 404);
	assert_int_equal(err_status(ERR_METHOD_NOT_ALLOWED), 405);
	assert_string_equal(err_name(ERR_METHOD_NOT_ALLOWED), "method_not_allowed");
	assert_int_equal(err_status(ERR_TENANT_REQUIRED), 409);
	assert_string_equal(err_name(ERR_TENANT_REQUIRED), "tenant_required");
	assert_int_equal(err_status(ERR_VERSION_CONFLICT), 412);
	assert_int_equal(err_status(ERR_PAYLOAD_TOO_LARGE), 413);
	assert_string_equal(err_name(ERR_PAYLOAD_TOO_LARGE), "payload_too_large");
	assert_int_equal(err_status(ERR_UNSUPPORTED_MEDIA_TYPE), 415);
	assert_string_equal(err_name(ERR_UNSUPPORTED_MEDIA_TYPE), "unsupported_media_type");
	assert_int_equal(err_status(ERR_INTERNAL), 500);
}

static void
set_records_code_and_message_and_returns_minus_one(void **state)
{
	(void)state;
	struct err e = {0};

	assert_int_equal(err_set(&e, ERR_CONFLICT, "Already there."), -1);
	assert_int_equal(e.code, ERR_CONFLICT);
	assert_string_equal(e.message, "Already there.");
	assert_int_equal(err_set(&e, ERR_FORBIDDEN, NULL), -1);
	assert_int_equal(e.code, ERR_FORBIDDEN);
	assert_null(e.message);
}

static void
field_sets_validation_failed_and_accumulates(void **state)
{
	(void)state;
	struct err e = {0};

	assert_int_equal(err_field(&e, "name", "required"), -1);
	assert_int_equal(err_field(&e, "email", "invalid_format"), -1);
	assert_int_equal(e.code, ERR_VALIDATION_FAILED);
	assert_int_equal(e.nfields, 2);
	assert_string_equal(e.fields[0].name, "name");
	assert_string_equal(e.fields[0].reason, "required");
	assert_string_equal(e.fields[1].name, "email");
	assert_string_equal(e.fields[1].reason, "invalid_format");
}

static void
field_caps_at_max_fields(void **state)
{
	(void)state;
	struct {
		struct err e;
		char guard[64];	/* must stay untouched */
	} s;

	memset(&s, 0, sizeof(s));
	memset(s.guard, 0x5A, sizeof(s.guard));
	for (int i = 0; i < ERR_MAX_FIELDS + 10; i++)
		assert_int_equal(err_field(&s.e, "f", "too_long"), -1);
	assert_int_equal(s.e.nfields, ERR_MAX_FIELDS);
	assert_int_equal(s.e.code, ERR_VALIDATION_FAILED);
	for (size_t i = 0; i < sizeof(s.guard); i++)
		assert_int_equal((unsigned char)s.guard[i], 0x5A);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_code_has_a_snake_case_name),
		cmocka_unit_test(every_code_has_an_api_status),
		cmocka_unit_test(every_code_has_a_message),
		cmocka_unit_test(names_are_unique),
		cmocka_unit_test(server_errors_log_as_errors_client_errors_below),
		cmocka_unit_test(specific_mappings),
		cmocka_unit_test(set_records_code_and_message_and_returns_minus_one),
		cmocka_unit_test(field_sets_validation_failed_and_accumulates),
		cmocka_unit_test(field_caps_at_max_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
