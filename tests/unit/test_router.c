/* Route matching over modules' static tables (app/core/router.h). */
#include "helpers.h"

#include "app/core/router.h"

static int
handler_stub(struct req *r)
{
	(void)r;
	return 0;
}

static const struct route member_routes[] = {
	{"GET", "/api/v1/members", handler_stub, AUTH_TENANT, NULL, 0, NULL},
	{"POST", "/api/v1/members", handler_stub, AUTH_TENANT, NULL, ROUTE_JSON_BODY, NULL},
	{"PATCH", "/api/v1/members/{id}", handler_stub, AUTH_TENANT, NULL, ROUTE_JSON_BODY, NULL},
	{"DELETE", "/api/v1/members/{id}", handler_stub, AUTH_TENANT, NULL, 0, NULL},
	{"GET", "/api/v1/members/{id}/history", handler_stub, AUTH_TENANT, NULL, 0, NULL},
	{NULL, NULL, NULL, AUTH_NONE, NULL, 0, NULL},
};

static const struct route system_routes[] = {
	{"GET", "/api/v1/health", handler_stub, AUTH_NONE, NULL, 0, NULL},
	{"GET", "/api/v1/tenants/{tid}/members/{mid}", handler_stub, AUTH_PLATFORM, NULL, 0, NULL},
	{NULL, NULL, NULL, AUTH_NONE, NULL, 0, NULL},
};

static const struct module members_module = {"members", member_routes};
static const struct module system_module = {"system", system_routes};
static const struct module *const test_modules[] = {
	&members_module, &system_module, NULL,
};

/* router_match on a fresh request for method and path. */
static int
match(void **state, const char *method, const char *path)
{
	struct req *r = fixture_req(state);

	r->method = method;
	r->path = path;
	return router_match(r, test_modules);
}

static void
exact_path_matches(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "GET", "/api/v1/members"), 0);
	assert_ptr_equal(r->route, &member_routes[0]);
	assert_int_equal(r->nparams, 0);
	assert_int_equal(r->err.code, ERR_NONE);
}

static void
method_selects_the_route(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "POST", "/api/v1/members"), 0);
	assert_ptr_equal(r->route, &member_routes[1]);
}

static void
route_of_second_module_matches(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "GET", "/api/v1/health"), 0);
	assert_ptr_equal(r->route, &system_routes[0]);
}

static void
param_is_captured(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "PATCH", "/api/v1/members/42"), 0);
	assert_ptr_equal(r->route, &member_routes[2]);
	assert_int_equal(r->nparams, 1);
	assert_string_equal(req_param(r, "id"), "42");
	assert_null(req_param(r, "other"));
}

static void
param_in_the_middle_is_captured(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "GET", "/api/v1/members/7/history"), 0);
	assert_ptr_equal(r->route, &member_routes[4]);
	assert_string_equal(req_param(r, "id"), "7");
}

static void
two_params_are_captured(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "GET", "/api/v1/tenants/3/members/9"), 0);
	assert_int_equal(r->nparams, 2);
	assert_string_equal(req_param(r, "tid"), "3");
	assert_string_equal(req_param(r, "mid"), "9");
}

static void
param_takes_any_text_of_the_segment(void **state)
{
	struct req *r = fixture_req(state);

	/* the router captures; the handler decides (req_param_id_or_fail) */
	assert_int_equal(match(state, "PATCH", "/api/v1/members/abc"), 0);
	assert_string_equal(req_param(r, "id"), "abc");
}

static void
trailing_slash_does_not_match(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "GET", "/api/v1/members/"), -1);
	assert_int_equal(r->err.code, ERR_NOT_FOUND);
}

static void
trailing_slash_after_param_does_not_match(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "PATCH", "/api/v1/members/5/"), -1);
	assert_int_equal(r->err.code, ERR_NOT_FOUND);
}

static void
extra_segment_does_not_match(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "GET", "/api/v1/members/5/history/1"), -1);
	assert_int_equal(r->err.code, ERR_NOT_FOUND);
	assert_int_equal(r->nparams, 0);
	assert_null(r->route);
}

static void
prefix_of_a_route_does_not_match(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "GET", "/api/v1/member"), -1);
	assert_int_equal(r->err.code, ERR_NOT_FOUND);
	assert_int_equal(match(state, "GET", "/api/v1/membersx"), -1);
	assert_int_equal(r->err.code, ERR_NOT_FOUND);
	assert_int_equal(match(state, "GET", "/api/v1"), -1);
	assert_int_equal(r->err.code, ERR_NOT_FOUND);
}

static void
unknown_path_is_404_without_allow(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "GET", "/api/v1/nothing"), -1);
	assert_int_equal(r->err.code, ERR_NOT_FOUND);
	assert_int_equal(r->headers.len, 0);
}

static void
empty_path_is_404(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "GET", ""), -1);
	assert_int_equal(r->err.code, ERR_NOT_FOUND);
}

static void
known_path_wrong_method_is_405_with_allow(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "DELETE", "/api/v1/members"), -1);
	assert_int_equal(r->err.code, ERR_METHOD_NOT_ALLOWED);
	assert_null(r->route);
	assert_string_equal(buf_cstr(&r->headers), "Allow: GET, POST\r\n");
}

static void
allow_lists_methods_of_a_param_path(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "PUT", "/api/v1/members/5"), -1);
	assert_int_equal(r->err.code, ERR_METHOD_NOT_ALLOWED);
	assert_int_equal(r->nparams, 0);
	assert_string_equal(buf_cstr(&r->headers), "Allow: PATCH, DELETE\r\n");
}

static void
allow_with_a_single_method(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "POST", "/api/v1/members/5/history"), -1);
	assert_int_equal(r->err.code, ERR_METHOD_NOT_ALLOWED);
	assert_string_equal(buf_cstr(&r->headers), "Allow: GET\r\n");
}

static void
method_is_case_sensitive(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "get", "/api/v1/members"), -1);
	assert_int_equal(r->err.code, ERR_METHOD_NOT_ALLOWED);
}

static void
empty_segment_does_not_match_param(void **state)
{
	struct req *r = fixture_req(state);

	assert_int_equal(match(state, "GET", "/api/v1/members//history"), -1);
	assert_int_equal(r->err.code, ERR_NOT_FOUND);
}

static void
segment_of_256_bytes_matches(void **state)
{
	struct req *r = fixture_req(state);
	char path[512], seg[257];

	memset(seg, '1', 256);
	seg[256] = '\0';
	snprintf(path, sizeof(path), "/api/v1/members/%s", seg);
	assert_int_equal(match(state, "PATCH", path), 0);
	assert_string_equal(req_param(r, "id"), seg);
}

static void
overlong_segment_is_rejected(void **state)
{
	struct req *r = fixture_req(state);
	char path[512], seg[258];

	memset(seg, '1', 257);
	seg[257] = '\0';
	snprintf(path, sizeof(path), "/api/v1/members/%s", seg);
	assert_int_equal(match(state, "PATCH", path), -1);
	assert_int_equal(r->err.code, ERR_NOT_FOUND);
	assert_int_equal(r->nparams, 0);
}

static void
path_matches_reports_params_directly(void **state)
{
	struct req *r = fixture_req(state);

	assert_true(router_path_matches(r, "/a/{x}/b/{y}", "/a/1/b/2"));
	assert_int_equal(r->nparams, 2);
	assert_string_equal(req_param(r, "y"), "2");
	assert_false(router_path_matches(r, "/a/{x}", "/a"));
	assert_false(router_path_matches(r, "/a", "/a/1"));
	assert_false(router_path_matches(r, "/a/{x}", "/b/1"));
}

static void
too_many_params_do_not_match(void **state)
{
	struct req *r = fixture_req(state);

	assert_true(router_path_matches(r, "/{a}/{b}/{c}/{d}", "/1/2/3/4"));
	assert_false(router_path_matches(r, "/{a}/{b}/{c}/{d}/{e}", "/1/2/3/4/5"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(exact_path_matches),
		FIXTURE_TEST(method_selects_the_route),
		FIXTURE_TEST(route_of_second_module_matches),
		FIXTURE_TEST(param_is_captured),
		FIXTURE_TEST(param_in_the_middle_is_captured),
		FIXTURE_TEST(two_params_are_captured),
		FIXTURE_TEST(param_takes_any_text_of_the_segment),
		FIXTURE_TEST(trailing_slash_does_not_match),
		FIXTURE_TEST(trailing_slash_after_param_does_not_match),
		FIXTURE_TEST(extra_segment_does_not_match),
		FIXTURE_TEST(prefix_of_a_route_does_not_match),
		FIXTURE_TEST(unknown_path_is_404_without_allow),
		FIXTURE_TEST(empty_path_is_404),
		FIXTURE_TEST(known_path_wrong_method_is_405_with_allow),
		FIXTURE_TEST(allow_lists_methods_of_a_param_path),
		FIXTURE_TEST(allow_with_a_single_method),
		FIXTURE_TEST(method_is_case_sensitive),
		FIXTURE_TEST(empty_segment_does_not_match_param),
		FIXTURE_TEST(segment_of_256_bytes_matches),
		FIXTURE_TEST(overlong_segment_is_rejected),
		FIXTURE_TEST(path_matches_reports_params_directly),
		FIXTURE_TEST(too_many_params_do_not_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
