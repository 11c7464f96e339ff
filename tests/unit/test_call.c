/* The list query of record routes (app/core/call.c): filters, operators,
 * limits and their errors, as record_list receives them. */
#include "helpers.h"

#include "app/core/call.h"
#include "app/core/json.h"

/* call_list_params on query string qs; the JSON, or NULL on error. */
static const char *
list_params(void **state, const char *qs)
{
	struct req *r = fixture_req(state);
	const char *out = NULL;

	r->query = qs;
	return call_list_params(r, 200, &out) == 0 ? out : NULL;
}

static void
defaults_to_fifty_and_no_filters(void **state)
{
	assert_string_equal(list_params(state, ""), "{\"filters\":[],\"limit\":50}");
}

static void
passes_sort_q_and_cursor(void **state)
{
	assert_string_equal(list_params(state, "sort=-name&q=%E5%8D%8E%E4%B8%BA&cursor=abc&limit=7"),
	    "{\"filters\":[],\"limit\":7,\"cursor\":\"abc\",\"sort\":\"-name\",\"q\":\"华为\"}");
}

static void
turns_filters_into_triples(void **state)
{
	assert_string_equal(list_params(state,
	    "filter[level]=A&filter[amount][gte]=100&filter%5Bcustom.region%5D%5Bin%5D=a%2Cb"),
	    "{\"filters\":[[\"level\",\"eq\",\"A\"],[\"amount\",\"gte\",\"100\"],"
	    "[\"custom.region\",\"in\",\"a,b\"]],\"limit\":50}");
}

static void
refuses_malformed_filters(void **state)
{
	static const char *const bad[] = {"filter[]=1", "filter[a=1", "filter[a]x=1",
	    "filter[a][]=1", "filter[a][eq=1", "filter[a][eq]x=1", NULL};

	for (int i = 0; bad[i] != NULL; i++) {
		struct req *r = fixture_req(state);
		r->err = (struct err){0};
		assert_null(list_params(state, bad[i]));
		assert_int_equal(r->err.code, ERR_BAD_REQUEST);
	}
}

static void
refuses_bad_limits(void **state)
{
	static const char *const bad[] = {"limit=0", "limit=201", "limit=abc", "limit=-1",
	    "limit=99999", "limit=", NULL};

	for (int i = 0; bad[i] != NULL; i++) {
		struct req *r = fixture_req(state);
		r->err = (struct err){0};
		r->err.nfields = 0;
		assert_null(list_params(state, bad[i]));
		assert_true(has_field_error(r, "limit", "invalid_value"));
	}
}

static void
refuses_too_many_filters_and_long_values(void **state)
{
	struct req *r = fixture_req(state);
	struct buf qs;

	buf_init(&qs, r->arena);
	for (int i = 0; i < 21; i++)
		buf_addf(&qs, "%sfilter[f%d]=1", i > 0 ? "&" : "", i);
	assert_null(list_params(state, buf_cstr(&qs)));
	assert_int_equal(r->err.code, ERR_BAD_REQUEST);

	r->err = (struct err){0};
	char *long_value = arena_alloc(r->arena, 1100);
	memset(long_value, 'x', 1099);
	assert_null(list_params(state, arena_printf(r->arena, "filter[name]=%s", long_value)));
	assert_true(has_field_error(r, "filter[name]", "too_long"));
}

static void
refuses_overlong_q_and_sort(void **state)
{
	struct req *r = fixture_req(state);
	char *s = arena_alloc(r->arena, 300);

	memset(s, 'a', 299);
	assert_null(list_params(state, arena_printf(r->arena, "q=%s", s)));
	assert_true(has_field_error(r, "q", "too_long"));
	r->err = (struct err){0};
	assert_null(list_params(state, arena_printf(r->arena, "sort=%.*s", 65, s)));
	assert_true(has_field_error(r, "sort", "too_long"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(defaults_to_fifty_and_no_filters),
		FIXTURE_TEST(passes_sort_q_and_cursor),
		FIXTURE_TEST(turns_filters_into_triples),
		FIXTURE_TEST(refuses_malformed_filters),
		FIXTURE_TEST(refuses_bad_limits),
		FIXTURE_TEST(refuses_too_many_filters_and_long_values),
		FIXTURE_TEST(refuses_overlong_q_and_sort),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
