/* The per-request arena and struct buf (app/core/arena.h). */
#include "helpers.h"

static struct arena *
fixture_arena(void **state)
{
	return &((struct fixture *)*state)->arena;
}

static int
all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static void
alloc_is_zeroed_and_16_byte_aligned(void **state)
{
	struct arena *a = fixture_arena(state);
	static const size_t sizes[] = {0, 1, 3, 15, 16, 17, 31, 100, 4096};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *p = arena_alloc(a, sizes[i]);

		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		assert_true(all_zero(p, sizes[i]));
		memset(p, 0xAB, sizes[i]);	/* dirty it for the next one */
	}
}

static void
alloc_after_reset_is_zeroed_again(void **state)
{
	struct arena *a = fixture_arena(state);
	unsigned char *p = arena_alloc(a, 1000);

	memset(p, 0xFF, 1000);
	arena_reset(a);
	unsigned char *q = arena_alloc(a, 1000);
	assert_true(all_zero(q, 1000));
}

static void
alloc_larger_than_a_chunk(void **state)
{
	struct arena *a = fixture_arena(state);
	char *small = arena_strdup(a, "before");
	size_t big = 200 * 1024;
	unsigned char *p = arena_alloc(a, big);

	assert_int_equal((uintptr_t)p % 16, 0);
	assert_true(all_zero(p, big));
	memset(p, 0x5A, big);	/* ASan checks the whole range is ours */
	char *after = arena_strdup(a, "after");
	assert_string_equal(small, "before");
	assert_string_equal(after, "after");
	assert_int_equal(p[0], 0x5A);
	assert_int_equal(p[big - 1], 0x5A);
}

static void
alloc_exactly_one_chunk(void **state)
{
	struct arena *a = fixture_arena(state);

	arena_alloc(a, 1);	/* the first chunk is no longer empty */
	unsigned char *p = arena_alloc(a, 64 * 1024);
	memset(p, 1, 64 * 1024);
	unsigned char *q = arena_alloc(a, 64 * 1024 + 1);
	memset(q, 2, 64 * 1024 + 1);
	assert_int_equal(p[64 * 1024 - 1], 1);
}

static void
many_allocations_across_chunks_keep_their_content(void **state)
{
	struct arena *a = fixture_arena(state);
	enum { N = 5000, SIZE = 100 };	/* ~500 KiB: several chunks */
	unsigned char *ptrs[N];

	for (int i = 0; i < N; i++) {
		ptrs[i] = arena_alloc(a, SIZE);
		assert_int_equal((uintptr_t)ptrs[i] % 16, 0);
		memset(ptrs[i], i & 0xFF, SIZE);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(ptrs[i][0], i & 0xFF);
		assert_int_equal(ptrs[i][SIZE - 1], i & 0xFF);
	}
}

static char cleanup_log[16];
static size_t cleanup_count;

static void
record_cleanup(void *p)
{
	cleanup_log[cleanup_count++] = *(const char *)p;
}

static void
reset_runs_cleanups_in_reverse_order(void **state)
{
	struct arena *a = fixture_arena(state);
	static const char one = '1', two = '2', three = '3';

	cleanup_count = 0;
	arena_cleanup(a, record_cleanup, (void *)&one);
	arena_cleanup(a, record_cleanup, (void *)&two);
	arena_alloc(a, 100 * 1024);	/* a cleanup may sit in an older chunk */
	arena_cleanup(a, record_cleanup, (void *)&three);
	assert_int_equal(cleanup_count, 0);
	arena_reset(a);
	assert_int_equal(cleanup_count, 3);
	assert_memory_equal(cleanup_log, "321", 3);
}

static void
reset_runs_each_cleanup_once(void **state)
{
	struct arena *a = fixture_arena(state);
	static const char x = 'x';

	cleanup_count = 0;
	arena_cleanup(a, record_cleanup, (void *)&x);
	arena_reset(a);
	arena_reset(a);
	assert_int_equal(cleanup_count, 1);
}

static void
free_runs_cleanups(void **state)
{
	(void)state;
	struct arena a;
	static const char y = 'y';

	cleanup_count = 0;
	arena_init(&a);
	arena_cleanup(&a, record_cleanup, (void *)&y);
	arena_free(&a);
	assert_int_equal(cleanup_count, 1);
	arena_free(&a);	/* twice is harmless */
	assert_int_equal(cleanup_count, 1);
}

static void
reset_allows_reuse(void **state)
{
	struct arena *a = fixture_arena(state);

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 2000; i++)
			arena_alloc(a, 200);	/* several chunks each round */
		char *s = arena_printf(a, "round %d", round);
		assert_string_equal(s, arena_printf(a, "round %d", round));
		arena_reset(a);
	}
	char *s = arena_strdup(a, "still works");
	assert_string_equal(s, "still works");
}

static void
strdup_and_strndup_copy(void **state)
{
	struct arena *a = fixture_arena(state);
	char src[] = "hello 世界";
	char *d = arena_strdup(a, src);

	src[0] = 'J';
	assert_string_equal(d, "hello 世界");
	assert_string_equal(arena_strdup(a, ""), "");
	assert_string_equal(arena_strndup(a, "abcdef", 3), "abc");
	assert_string_equal(arena_strndup(a, "abc", 0), "");
}

static void
printf_formats_long_strings(void **state)
{
	struct arena *a = fixture_arena(state);
	char long_arg[3000];

	memset(long_arg, 'z', sizeof(long_arg) - 1);
	long_arg[sizeof(long_arg) - 1] = '\0';
	assert_string_equal(arena_printf(a, "%d-%s-%lld", 42, "x", -7LL),
	    "42-x--7");
	char *s = arena_printf(a, "<%s>", long_arg);
	assert_int_equal(strlen(s), 3001);
	assert_int_equal(s[0], '<');
	assert_int_equal(s[3000], '>');
	assert_string_equal(arena_printf(a, "%s", ""), "");
}

static void
buf_starts_empty(void **state)
{
	struct buf b;

	buf_init(&b, fixture_arena(state));
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
}

static void
buf_grows_and_keeps_content(void **state)
{
	struct buf b;
	char expect[10001];

	buf_init(&b, fixture_arena(state));
	for (int i = 0; i < 10000; i++) {
		char c = (char)('a' + i % 26);

		buf_add(&b, &c, 1);
		expect[i] = c;
	}
	expect[10000] = '\0';
	assert_int_equal(b.len, 10000);
	assert_true(b.cap > b.len);
	assert_string_equal(buf_cstr(&b), expect);
}

static void
buf_adds_and_addf_append(void **state)
{
	struct buf b;

	buf_init(&b, fixture_arena(state));
	buf_adds(&b, "id=");
	buf_addf(&b, "%d", 17);
	buf_adds(&b, "");
	buf_addf(&b, ",name=%s", "张三");
	assert_string_equal(buf_cstr(&b), "id=17,name=张三");
	assert_int_equal(b.len, strlen("id=17,name=张三"));
}

static void
buf_add_takes_n_bytes_only(void **state)
{
	struct buf b;

	buf_init(&b, fixture_arena(state));
	buf_add(&b, "abcdef", 2);
	assert_string_equal(buf_cstr(&b), "ab");
}

static const char *
json_str(void **state, const char *s)
{
	struct buf b;

	buf_init(&b, fixture_arena(state));
	buf_add_json_str(&b, s);
	return buf_cstr(&b);
}

static void
json_str_quotes_plain_text(void **state)
{
	assert_string_equal(json_str(state, "hello"), "\"hello\"");
	assert_string_equal(json_str(state, ""), "\"\"");
}

static void
json_str_escapes_quote_and_backslash(void **state)
{
	assert_string_equal(json_str(state, "say \"hi\""), "\"say \\\"hi\\\"\"");
	assert_string_equal(json_str(state, "C:\\dir\\"), "\"C:\\\\dir\\\\\"");
}

static void
json_str_escapes_control_characters(void **state)
{
	assert_string_equal(json_str(state, "a\nb\rc\td"), "\"a\\nb\\rc\\td\"");
	assert_string_equal(json_str(state, "\x01\x08\x0c\x1f"),
	    "\"\\u0001\\u0008\\u000c\\u001f\"");
}

static void
json_str_leaves_chinese_untouched(void **state)
{
	assert_string_equal(json_str(state, "张三 有限公司"), "\"张三 有限公司\"");
	assert_string_equal(json_str(state, "emoji 😀 / slash"),
	    "\"emoji 😀 / slash\"");
}

static void
json_str_long_input_grows_buffer(void **state)
{
	char s[1001];

	memset(s, '"', 1000);
	s[1000] = '\0';
	const char *out = json_str(state, s);
	assert_int_equal(strlen(out), 2002);	/* each quote doubled, plus two */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(alloc_is_zeroed_and_16_byte_aligned),
		FIXTURE_TEST(alloc_after_reset_is_zeroed_again),
		FIXTURE_TEST(alloc_larger_than_a_chunk),
		FIXTURE_TEST(alloc_exactly_one_chunk),
		FIXTURE_TEST(many_allocations_across_chunks_keep_their_content),
		FIXTURE_TEST(reset_runs_cleanups_in_reverse_order),
		FIXTURE_TEST(reset_runs_each_cleanup_once),
		cmocka_unit_test(free_runs_cleanups),
		FIXTURE_TEST(reset_allows_reuse),
		FIXTURE_TEST(strdup_and_strndup_copy),
		FIXTURE_TEST(printf_formats_long_strings),
		FIXTURE_TEST(buf_starts_empty),
		FIXTURE_TEST(buf_grows_and_keeps_content),
		FIXTURE_TEST(buf_adds_and_addf_append),
		FIXTURE_TEST(buf_add_takes_n_bytes_only),
		FIXTURE_TEST(json_str_quotes_plain_text),
		FIXTURE_TEST(json_str_escapes_quote_and_backslash),
		FIXTURE_TEST(json_str_escapes_control_characters),
		FIXTURE_TEST(json_str_leaves_chinese_untouched),
		FIXTURE_TEST(json_str_long_input_grows_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
