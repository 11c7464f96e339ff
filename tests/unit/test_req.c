/* Requests and responses (app/core/req.h): query strings, path ids, and the
 * error shape written by req_fail, captured from an in-memory FastCGI stream. */
#include "helpers.h"

#include <fcgiapp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "app/core/router.h"

/* ---- req_query ---- */

static const char *
query(void **state, const char *qs, const char *name)
{
	struct req *r = fixture_req(state);

	r->query = qs;
	return req_query(r, name);
}

static void
page_defaults_to_fifty_from_the_start(void **state)
{
	struct req *r = fixture_req(state);
	struct page p;

	r->query = "";
	assert_int_equal(req_page(r, &p), 0);
	assert_int_equal(p.limit, 50);
	assert_int_equal(p.after, 0);
}

static void
page_reads_limit_and_cursor(void **state)
{
	struct req *r = fixture_req(state);
	struct page p;

	r->query = "limit=200&cursor=1234";
	assert_int_equal(req_page(r, &p), 0);
	assert_int_equal(p.limit, 200);
	assert_int_equal(p.after, 1234);
}

static void
page_refuses_a_limit_out_of_range(void **state)
{
	struct req *r = fixture_req(state);
	struct page p;

	r->query = "limit=201";
	assert_int_equal(req_page(r, &p), -1);
	assert_true(has_field_error(r, "limit", "invalid_value"));
}

static void
page_refuses_a_malformed_cursor(void **state)
{
	const char *bad[] = {"cursor=abc", "cursor=0", "cursor=-5", "cursor=12x",
	    "cursor=9999999999999999999", "limit=ten"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct req *r = fixture_req(state);
		struct page p;

		r->err = (struct err){0};
		r->query = bad[i];
		assert_int_equal(req_page(r, &p), -1);
		assert_int_not_equal(r->err.code, ERR_NONE);
	}
}

static void
query_finds_a_key(void **state)
{
	assert_string_equal(query(state, "a=1&b=two&c=3", "b"), "two");
	assert_string_equal(query(state, "a=1&b=two&c=3", "a"), "1");
	assert_string_equal(query(state, "a=1&b=two&c=3", "c"), "3");
}

static void
query_absent_key_is_null(void **state)
{
	struct req *r = fixture_req(state);

	assert_null(query(state, "a=1&b=2", "z"));
	assert_null(query(state, "", "a"));
	r->query = NULL;
	assert_null(req_query(r, "a"));
}

static void
query_empty_value_is_empty_string(void **state)
{
	assert_string_equal(query(state, "a=&b=2", "a"), "");
	assert_string_equal(query(state, "flag&b=2", "flag"), "");
	assert_string_equal(query(state, "b=2&a=", "a"), "");
}

static void
query_decodes_percent_escapes(void **state)
{
	assert_string_equal(query(state, "q=%E4%B8%AD", "q"), "中");
	assert_string_equal(query(state, "q=%e4%b8%ad%E6%96%87", "q"), "中文");
	assert_string_equal(query(state, "q=a%20b", "q"), "a b");
	assert_string_equal(query(state, "q=1%2B1%3D2%26x", "q"), "1+1=2&x");
}

static void
query_decodes_plus_as_space(void **state)
{
	assert_string_equal(query(state, "q=John+Smith", "q"), "John Smith");
	assert_string_equal(query(state, "q=+", "q"), " ");
}

static void
query_key_that_is_a_prefix_of_another(void **state)
{
	assert_string_equal(query(state, "name_like=x&name=y", "name"), "y");
	assert_string_equal(query(state, "name=y&name_like=x", "name_like"), "x");
	assert_null(query(state, "name_like=x", "name"));
	assert_null(query(state, "name=y", "nam"));
}

static void
query_value_is_not_mistaken_for_a_key(void **state)
{
	assert_null(query(state, "a=b", "b"));
	assert_string_equal(query(state, "x=a=b", "x"), "a=b");
}

static void
query_first_of_repeated_keys_wins(void **state)
{
	assert_string_equal(query(state, "a=1&a=2", "a"), "1");
}

static void
query_tolerates_empty_pairs(void **state)
{
	assert_string_equal(query(state, "&&a=1&", "a"), "1");
	assert_string_equal(query(state, "a=1&&b=2", "b"), "2");
}

static void
query_leaves_malformed_escapes_as_is(void **state)
{
	assert_string_equal(query(state, "q=100%", "q"), "100%");
	assert_string_equal(query(state, "q=%zz", "q"), "%zz");
	assert_string_equal(query(state, "q=%4", "q"), "%4");
	assert_string_equal(query(state, "q=%4g1", "q"), "%4g1");
	assert_string_equal(query(state, "q=%%41", "q"), "%A");
	assert_string_equal(query(state, "q=%4&b=1", "q"), "%4");
}

static void
query_escape_at_the_very_end_is_decoded(void **state)
{
	assert_string_equal(query(state, "q=ab%41", "q"), "abA");
	assert_string_equal(query(state, "q=%41&r=1", "q"), "A");
}

/* ---- req_param_id_or_fail ---- */

static int
param_id(void **state, const char *value, int64_t *out)
{
	struct req *r = fixture_req(state);

	r->err.code = ERR_NONE;
	r->nparams = 1;
	r->param_names[0] = "id";
	r->param_values[0] = value;
	return req_param_id_or_fail(r, "id", out);
}

static void
param_id_accepts_positive_integers(void **state)
{
	struct req *r = fixture_req(state);
	int64_t id;

	assert_int_equal(param_id(state, "42", &id), 0);
	assert_int_equal(id, 42);
	assert_int_equal(param_id(state, "1", &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(param_id(state, "999999999999999999", &id), 0);	/* 18 digits */
	assert_int_equal(id, INT64_C(999999999999999999));
	assert_int_equal(r->err.code, ERR_NONE);
}

static void
param_id_rejects_bad_ids_as_not_found(void **state)
{
	static const char *const bad[] = {
		"0", "000", "-1", "-0", "+1", "abc", "12a", "1.0", "", " 1", "1 ",
		"0x10", "1e3", "1000000000000000000",	/* 19 digits */
		"9223372036854775807", "99999999999999999999999",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t id = 77;

		if (param_id(state, bad[i], &id) != -1)
			fail_msg("accepted id \"%s\" as %lld", bad[i], (long long)id);
		assert_int_equal(fixture_req(state)->err.code, ERR_NOT_FOUND);
	}
}

static void
param_id_absent_is_not_found(void **state)
{
	struct req *r = fixture_req(state);
	int64_t id;

	assert_int_equal(req_param_id_or_fail(r, "id", &id), -1);
	assert_int_equal(r->err.code, ERR_NOT_FOUND);
}

/* ---- small helpers ---- */

static void
header_is_added_in_wire_form(void **state)
{
	struct req *r = fixture_req(state);

	req_header(r, "Retry-After", "30");
	req_header(r, "X-Thing", "a b");
	assert_string_equal(buf_cstr(&r->headers), "Retry-After: 30\r\nX-Thing: a b\r\n");
}

static void
i64_formats_extremes(void **state)
{
	struct req *r = fixture_req(state);

	assert_string_equal(req_i64(r, 0), "0");
	assert_string_equal(req_i64(r, 42), "42");
	assert_string_equal(req_i64(r, INT64_MAX), "9223372036854775807");
	assert_string_equal(req_i64(r, INT64_MIN), "-9223372036854775808");
}

/* ---- responses without FastCGI ---- */

static void
fail_without_fcgi_sets_status_and_responded(void **state)
{
	struct req *r = fixture_req(state);

	err_set(&r->err, ERR_NOT_FOUND, NULL);
	assert_int_equal(req_fail(r), 0);
	assert_int_equal(r->status, 404);
	assert_true(r->responded);
}

static void
fail_with_validation_errors_is_422(void **state)
{
	struct req *r = fixture_req(state);

	err_field(&r->err, "name", "required");
	err_field(&r->err, "email", "invalid_format");
	assert_int_equal(req_fail(r), 0);
	assert_int_equal(r->status, 422);
}

static void
fail_without_an_error_is_500(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(req_fail(r), 0);
	assert_int_equal(r->status, 500);
	assert_int_equal(r->err.code, ERR_INTERNAL);
}

static void
fail_twice_keeps_the_first_answer(void **state)
{
	struct req *r = fixture_req(state);

	req_fail_with(r, ERR_FORBIDDEN, NULL);
	req_fail_with(r, ERR_DB_UNAVAILABLE, NULL);
	assert_int_equal(r->status, 403);
}

static void
fail_with_sets_code_and_message(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(req_fail_with(r, ERR_RATE_LIMITED, "Slow down."), 0);
	assert_int_equal(r->status, 429);
	assert_int_equal(r->err.code, ERR_RATE_LIMITED);
	assert_string_equal(r->err.message, "Slow down.");
	assert_true(r->responded);
}

static void
json_and_no_content_without_transaction(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(req_json(r, 201, "{\"id\":1}"), 0);
	assert_int_equal(r->status, 201);
	assert_true(r->responded);
	req_init(r, r->arena);
	assert_int_equal(req_no_content(r), 0);
	assert_int_equal(r->status, 204);
}

/* ---- responses written to FastCGI ---- */

struct capture {
	FCGX_Request fr;
	FCGX_Stream out;
	unsigned char data[256 * 1024];
};

static void
capture_full(FCGX_Stream *s, int do_close)
{
	(void)do_close;
	s->isClosed = 1;	/* the test buffer is full: FCGX_PutStr fails */
}

/* Points r's FastCGI output at an in-memory buffer. */
static struct capture *
capture(void **state)
{
	struct req *r = fixture_req(state);
	struct capture *c = arena_alloc(r->arena, sizeof(*c));

	c->out.wrNext = c->data;
	c->out.stop = c->data + sizeof(c->data) - 1;
	c->out.emptyBuffProc = capture_full;
	c->fr.out = &c->out;
	r->fcgi = &c->fr;
	r->request_id = "0123abcd";
	return c;
}

static const char *
captured(struct capture *c)
{
	*c->out.wrNext = '\0';
	return (const char *)c->data;
}

static void
json_delete(void *p)
{
	cJSON_Delete(p);
}

/* The body after the blank line, parsed; NULL when it is not JSON. */
static cJSON *
captured_json(void **state, struct capture *c)
{
	const char *all = captured(c);
	const char *body = strstr(all, "\r\n\r\n");
	cJSON *j;

	assert_non_null(body);
	j = cJSON_Parse(body + 4);
	if (j != NULL)
		arena_cleanup(fixture_req(state)->arena, json_delete, j);
	return j;
}

static const char *
error_str(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(j, "error"), key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
fail_writes_status_headers_and_error_shape(void **state)
{
	struct req *r = fixture_req(state);
	struct capture *c = capture(state);

	req_fail_with(r, ERR_NOT_FOUND, NULL);
	const char *out = captured(c);
	assert_memory_equal(out, "Status: 404 Not Found\r\n", 23);
	assert_non_null(strstr(out, "\r\nX-Request-Id: 0123abcd\r\n"));
	assert_non_null(strstr(out, "\r\nContent-Type: application/json; charset=utf-8\r\n"));
	const char *body = strstr(out, "\r\n\r\n") + 4;
	char *length = arena_printf(r->arena, "\r\nContent-Length: %zu\r\n", strlen(body));
	assert_non_null(strstr(out, length));
	assert_string_equal(body,
	    "{\"error\":{\"code\":\"not_found\",\"message\":\"Not found.\"}}");
}

static void
fail_writes_fields_as_an_object(void **state)
{
	struct req *r = fixture_req(state);
	struct capture *c = capture(state);

	err_field(&r->err, "name", "required");
	err_field(&r->err, "email", "invalid_format");
	req_fail(r);
	cJSON *j = captured_json(state, c);
	assert_non_null(j);
	assert_string_equal(error_str(j, "code"), "validation_failed");
	const cJSON *fields = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(j, "error"), "fields");
	assert_true(cJSON_IsObject(fields));
	assert_int_equal(cJSON_GetArraySize(fields), 2);
	assert_string_equal(cJSON_GetObjectItem(fields, "name")->valuestring, "required");
	assert_string_equal(cJSON_GetObjectItem(fields, "email")->valuestring,
	    "invalid_format");
	assert_memory_equal(captured(c), "Status: 422 Unprocessable Content\r\n", 35);
}

static void
fail_escapes_the_message(void **state)
{
	struct req *r = fixture_req(state);
	struct capture *c = capture(state);

	req_fail_with(r, ERR_CONFLICT, "名称 \"ACME\" 已存在\\\n");
	cJSON *j = captured_json(state, c);
	assert_non_null(j);
	assert_string_equal(error_str(j, "message"), "名称 \"ACME\" 已存在\\\n");
}

static void
fail_adds_extra_json_to_the_error(void **state)
{
	struct req *r = fixture_req(state);
	struct capture *c = capture(state);

	r->err.extra_json = "\"retry_after\":30";
	req_fail_with(r, ERR_RATE_LIMITED, NULL);
	cJSON *j = captured_json(state, c);
	assert_non_null(j);
	const cJSON *ra = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(j, "error"), "retry_after");
	assert_true(cJSON_IsNumber(ra));
	assert_int_equal(ra->valueint, 30);
}

static void
fail_writes_extra_headers(void **state)
{
	struct req *r = fixture_req(state);
	struct capture *c = capture(state);

	req_header(r, "Retry-After", "30");
	req_fail_with(r, ERR_RATE_LIMITED, NULL);
	assert_non_null(strstr(captured(c), "\r\nRetry-After: 30\r\n\r\n"));
	assert_memory_equal(captured(c), "Status: 429 Too Many Requests\r\n", 31);
}

static const struct route only_get[] = {
	{"GET", "/api/v1/things", NULL, AUTH_NONE, NULL, 0, NULL},
	{"POST", "/api/v1/things", NULL, AUTH_NONE, NULL, 0, NULL},
	{NULL, NULL, NULL, AUTH_NONE, NULL, 0, NULL},
};
static const struct module things = {"things", only_get};
static const struct module *const things_modules[] = {&things, NULL};

static void
method_not_allowed_answer_carries_allow(void **state)
{
	struct req *r = fixture_req(state);
	struct capture *c = capture(state);

	r->method = "DELETE";
	r->path = "/api/v1/things";
	assert_int_equal(router_match(r, things_modules), -1);
	req_fail(r);
	const char *out = captured(c);
	assert_memory_equal(out, "Status: 405 Method Not Allowed\r\n", 32);
	assert_non_null(strstr(out, "\r\nAllow: GET, POST\r\n"));
	cJSON *j = captured_json(state, c);
	assert_non_null(j);
	assert_string_equal(error_str(j, "code"), "method_not_allowed");
}

static void
json_answer_is_written_as_given(void **state)
{
	struct req *r = fixture_req(state);
	struct capture *c = capture(state);

	req_json(r, 200, "{\"name\":\"张三\"}");
	const char *out = captured(c);
	assert_memory_equal(out, "Status: 200 OK\r\n", 16);
	assert_non_null(strstr(out, "\r\nContent-Length: 17\r\n"));
	assert_string_equal(strstr(out, "\r\n\r\n") + 4, "{\"name\":\"张三\"}");
}

static void
no_content_answer_has_no_body(void **state)
{
	struct req *r = fixture_req(state);
	struct capture *c = capture(state);

	req_no_content(r);
	const char *out = captured(c);
	assert_memory_equal(out, "Status: 204 No Content\r\n", 24);
	assert_null(strstr(out, "Content-Type"));
	assert_null(strstr(out, "Content-Length"));
	assert_string_equal(strstr(out, "\r\n\r\n"), "\r\n\r\n");
}

static void
missing_request_id_is_written_as_dash(void **state)
{
	struct req *r = fixture_req(state);
	struct capture *c = capture(state);

	r->request_id = NULL;
	req_fail_with(r, ERR_FORBIDDEN, NULL);
	assert_non_null(strstr(captured(c), "\r\nX-Request-Id: -\r\n"));
}

/* Runs fn in a child process, so that a sanitizer report or crash fails this
 * test instead of ending the whole program. */
static void
assert_child_survives(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("the child crashed or was stopped by a sanitizer (status %d)",
		    status);
}

static void
write_error_with_long_request_id(void)
{
	struct arena a;
	struct req r;
	struct capture *c;
	char *rid;

	arena_init(&a);
	req_init(&r, &a);
	c = arena_alloc(&a, sizeof(*c));
	c->out.wrNext = c->data;
	c->out.stop = c->data + sizeof(c->data) - 1;
	c->out.emptyBuffProc = capture_full;
	c->fr.out = &c->out;
	r.fcgi = &c->fr;
	rid = arena_alloc(&a, 1001);
	memset(rid, 'a', 1000);
	r.request_id = rid;
	req_fail_with(&r, ERR_NOT_FOUND, NULL);
	*c->out.wrNext = '\0';
	/* the head must still end with the body's headers and a blank line */
	if (strstr((const char *)c->data, "\r\n\r\n{\"error\"") == NULL)
		_exit(3);
	arena_free(&a);
}

static void
long_request_id_does_not_overflow_the_head(void **state)
{
	(void)state;
	/* dispatch caps nginx's id at 64 bytes; req.h does not say so */
	assert_child_survives(write_error_with_long_request_id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(query_finds_a_key),
		FIXTURE_TEST(query_absent_key_is_null),
		FIXTURE_TEST(query_empty_value_is_empty_string),
		FIXTURE_TEST(query_decodes_percent_escapes),
		FIXTURE_TEST(query_decodes_plus_as_space),
		FIXTURE_TEST(query_key_that_is_a_prefix_of_another),
		FIXTURE_TEST(query_value_is_not_mistaken_for_a_key),
		FIXTURE_TEST(query_first_of_repeated_keys_wins),
		FIXTURE_TEST(query_tolerates_empty_pairs),
		FIXTURE_TEST(query_leaves_malformed_escapes_as_is),
		FIXTURE_TEST(query_escape_at_the_very_end_is_decoded),
		FIXTURE_TEST(param_id_accepts_positive_integers),
		FIXTURE_TEST(param_id_rejects_bad_ids_as_not_found),
		FIXTURE_TEST(param_id_absent_is_not_found),
		FIXTURE_TEST(header_is_added_in_wire_form),
		FIXTURE_TEST(i64_formats_extremes),
		FIXTURE_TEST(fail_without_fcgi_sets_status_and_responded),
		FIXTURE_TEST(fail_with_validation_errors_is_422),
		FIXTURE_TEST(fail_without_an_error_is_500),
		FIXTURE_TEST(fail_twice_keeps_the_first_answer),
		FIXTURE_TEST(fail_with_sets_code_and_message),
		FIXTURE_TEST(json_and_no_content_without_transaction),
		FIXTURE_TEST(fail_writes_status_headers_and_error_shape),
		FIXTURE_TEST(fail_writes_fields_as_an_object),
		FIXTURE_TEST(fail_escapes_the_message),
		FIXTURE_TEST(fail_adds_extra_json_to_the_error),
		FIXTURE_TEST(fail_writes_extra_headers),
		FIXTURE_TEST(method_not_allowed_answer_carries_allow),
		FIXTURE_TEST(json_answer_is_written_as_given),
		FIXTURE_TEST(no_content_answer_has_no_body),
		FIXTURE_TEST(missing_request_id_is_written_as_dash),
		FIXTURE_TEST(long_request_id_does_not_overflow_the_head),
		FIXTURE_TEST(page_defaults_to_fifty_from_the_start),
		FIXTURE_TEST(page_reads_limit_and_cursor),
		FIXTURE_TEST(page_refuses_a_limit_out_of_range),
		FIXTURE_TEST(page_refuses_a_malformed_cursor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
