/* CSV decoding, reading and writing (app/core/csv.h). */
#include "helpers.h"

#include "app/core/csv.h"

/* GBK (and GB18030) bytes of the Chinese text used below. */
#define GBK_NAME "\xd0\xd5\xc3\xfb"      /* 姓名 */
#define GBK_COMPANY "\xb9\xab\xcb\xbe"   /* 公司 */
#define GBK_ZHANG_SAN "\xd5\xc5\xc8\xfd" /* 张三 */
#define GBK_HUAWEI "\xbb\xaa\xce\xaa"    /* 华为 */

/* csv_to_utf8 of the first len bytes of in; fails the test on an error. */
static const char *
decode_n(void **state, const char *in, size_t len, const char *encoding)
{
	struct req *r = fixture_req(state);
	const char *out = NULL;
	size_t out_len = 0;

	if (csv_to_utf8(r->arena, &r->err, in, len, encoding, &out, &out_len) != 0)
		fail_msg("refused %s input %.40s: %s", encoding, in, r->err.message);
	assert_non_null(out);
	assert_int_equal(out_len, strlen(out));
	return out;
}

static const char *
decode(void **state, const char *in, const char *encoding)
{
	return decode_n(state, in, strlen(in), encoding);
}

/* Asserts the first len bytes of in are refused as encoding, with the
 * outputs left as they were. */
static void
assert_bad_encoding_n(void **state, const char *in, size_t len, const char *encoding)
{
	struct req *r = fixture_req(state);
	const char *out = "unchanged";
	size_t out_len = 42;

	r->err = (struct err){0};
	if (csv_to_utf8(r->arena, &r->err, in, len, encoding, &out, &out_len) != -1)
		fail_msg("accepted %s input %.40s as %s", encoding, in, out);
	assert_int_equal(r->err.code, ERR_VALIDATION_FAILED);
	assert_true(has_field_error(r, "encoding", "invalid_encoding"));
	assert_string_equal(out, "unchanged");
	assert_int_equal(out_len, 42);
}

static void
assert_bad_encoding(void **state, const char *in, const char *encoding)
{
	assert_bad_encoding_n(state, in, strlen(in), encoding);
}

/* Every row of text, one per line as "line:[field][field]", or NULL with the
 * error in the fixture's request. */
static const char *
read_all_with(void **state, const char *text, size_t len, char delimiter)
{
	struct req *r = fixture_req(state);
	struct csv_reader rd;
	struct csv_row row;
	struct buf b;
	int rc;

	buf_init(&b, r->arena);
	buf_adds(&b, ""); /* no rows: "" rather than NULL */
	csv_reader_init(&rd, r->arena, text, len);
	rd.delimiter = delimiter;
	while ((rc = csv_next_row(&rd, &row, &r->err)) == 1) {
		assert_in_range(row.ncols, 1, CSV_MAX_COLS);
		buf_addf(&b, "%d:", row.line);
		for (int i = 0; i < row.ncols; i++)
			buf_addf(&b, "[%s]", row.cols[i]);
		buf_adds(&b, "\n");
	}
	if (rc == -1)
		return NULL;
	assert_int_equal(rc, 0);
	assert_int_equal(r->err.code, ERR_NONE);
	return buf_cstr(&b);
}

static const char *
read_all(void **state, const char *text)
{
	return read_all_with(state, text, strlen(text), ',');
}

/* Asserts text is refused with the field reason and a message naming line. */
static void
assert_refused(void **state, const char *text, const char *reason, int line)
{
	struct req *r = fixture_req(state);

	r->err = (struct err){0};

	const char *rows = read_all(state, text);

	if (rows != NULL)
		fail_msg("accepted %.40s as %s", text, rows);
	assert_int_equal(r->err.code, ERR_VALIDATION_FAILED);
	assert_true(has_field_error(r, "csv", reason));
	assert_non_null(r->err.message);

	const char *prefix = arena_printf(r->arena, "Line %d: ", line);

	if (strncmp(r->err.message, prefix, strlen(prefix)) != 0)
		fail_msg("message \"%s\" does not start with \"%s\"", r->err.message, prefix);
}

/* One row written with the fields of values (NULL included), n of them. */
static const char *
write_row(void **state, const char *const *values, int n)
{
	struct buf b;

	buf_init(&b, fixture_req(state)->arena);
	for (int i = 0; i < n; i++)
		csv_add_field(&b, values[i], i == 0);
	csv_end_row(&b);
	return buf_cstr(&b);
}

/* value written as the only field of a row, without the row's CRLF. */
static const char *
written(void **state, const char *value)
{
	const char *row = write_row(state, &value, 1);
	size_t len = strlen(row);

	assert_true(len >= 2);
	assert_string_equal(row + len - 2, "\r\n");
	return arena_strndup(fixture_req(state)->arena, row, len - 2);
}

/* ---- encoding ---- */

static void
utf8_is_taken_as_it_is(void **state)
{
	assert_string_equal(
	    decode(state, "名字,电话\r\n张三,1\r\n", "utf-8"), "名字,电话\r\n张三,1\r\n");
	assert_string_equal(decode(state, "plain ascii", "UTF-8"), "plain ascii");
}

static void
gbk_is_decoded_to_utf8(void **state)
{
	assert_string_equal(decode(state, GBK_HUAWEI, "gbk"), "华为");
	assert_string_equal(decode(state, "id," GBK_ZHANG_SAN "\n", "gbk"), "id,张三\n");
}

static void
gb18030_four_byte_characters_are_decoded(void **state)
{
	/* beyond GBK: an emoji, four bytes in GB18030 */
	assert_string_equal(decode(state, "\x94\x39\xfc\x36", "gbk"), "😀");
}

static void
gbk_file_reads_back_as_utf8_rows(void **state)
{
	const char *text = decode(state,
	    GBK_NAME "," GBK_COMPANY "\r\n" GBK_ZHANG_SAN ",\"" GBK_HUAWEI ",\"\"Ltd\"\"\"\r\n",
	    "gbk");

	assert_string_equal(read_all(state, text), "1:[姓名][公司]\n2:[张三][华为,\"Ltd\"]\n");
}

static void
utf8_file_written_reads_back(void **state)
{
	static const char *const values[] = {
	    "张三", "a,b", "say \"hi\"", "two\r\nlines", "", NULL, "😀", "tab\there"};
	const char *text = decode(state, write_row(state, values, 8), "utf-8");

	assert_string_equal(
	    read_all(state, text), "1:[张三][a,b][say \"hi\"][two\r\nlines][][][😀][tab\there]\n");
}

static void
auto_takes_valid_utf8_as_utf8(void **state)
{
	assert_string_equal(decode(state, "华为,张三", "auto"), "华为,张三");
	assert_string_equal(decode(state, "ascii only", "auto"), "ascii only");
}

static void
auto_takes_other_bytes_as_gbk(void **state)
{
	assert_string_equal(decode(state, GBK_HUAWEI "," GBK_ZHANG_SAN, "auto"), "华为,张三");
}

static void
auto_refuses_what_is_neither(void **state)
{
	assert_bad_encoding(state, "\xff\xfe", "auto");
	assert_bad_encoding(state, "abc\x81", "auto"); /* a GBK character cut short */
}

static void
utf8_bom_is_stripped(void **state)
{
	assert_string_equal(decode(state, CSV_UTF8_BOM "a,b", "utf-8"), "a,b");
	assert_string_equal(decode(state, CSV_UTF8_BOM "华为", "auto"), "华为");
	assert_string_equal(decode(state, CSV_UTF8_BOM, "auto"), "");
	/* only the first */
	assert_string_equal(
	    decode(state, CSV_UTF8_BOM CSV_UTF8_BOM "x", "utf-8"), CSV_UTF8_BOM "x");
}

static void
bom_then_gbk_is_refused_under_auto(void **state)
{
	/* a BOM says UTF-8: what follows is not taken as GBK, though these
	 * bytes, BOM included, would decode as GB18030 */
	assert_bad_encoding(state, CSV_UTF8_BOM "a" GBK_HUAWEI, "auto");
}

static void
invalid_utf8_declared_utf8_is_refused(void **state)
{
	assert_bad_encoding(state, GBK_HUAWEI, "utf-8");
	assert_bad_encoding(state, "\xc0\xaf", "utf-8");         /* overlong '/' */
	assert_bad_encoding(state, "\xed\xa0\x80", "utf-8");     /* a surrogate */
	assert_bad_encoding(state, "ok \xe5\x8d", "utf-8");      /* cut short */
	assert_bad_encoding(state, "\xf4\x90\x80\x80", "utf-8"); /* above U+10FFFF */
}

static void
invalid_gbk_is_refused(void **state)
{
	assert_bad_encoding(state, "ok \xbb", "gbk"); /* cut short */
	assert_bad_encoding(state, "\xff", "gbk");
}

static void
nul_byte_is_refused(void **state)
{
	assert_bad_encoding_n(state, "a\0b", 3, "utf-8");
	assert_bad_encoding_n(state, "a\0b", 3, "gbk");
	assert_bad_encoding_n(state, "a\0b", 3, "auto");
}

static void
unknown_encoding_is_refused(void **state)
{
	struct req *r = fixture_req(state);
	const char *out = NULL;
	size_t out_len = 0;

	assert_int_equal(csv_to_utf8(r->arena, &r->err, "a", 1, "latin1", &out, &out_len), -1);
	assert_int_equal(r->err.code, ERR_VALIDATION_FAILED);
	assert_true(has_field_error(r, "encoding", "invalid_value"));
	assert_null(out);
}

static void
empty_input_decodes_to_empty(void **state)
{
	assert_string_equal(decode_n(state, "", 0, "utf-8"), "");
	assert_string_equal(decode_n(state, NULL, 0, "gbk"), "");
	assert_string_equal(decode_n(state, "", 0, "auto"), "");
}

/* ---- reading ---- */

static void
empty_input_gives_no_rows(void **state)
{
	assert_string_equal(read_all(state, ""), "");
	assert_string_equal(read_all_with(state, NULL, 0, ','), "");
	assert_string_equal(read_all(state, "\r\n\n\r\n\r"), "");
}

static void
rows_end_with_lf_crlf_cr_or_the_end(void **state)
{
	assert_string_equal(
	    read_all(state, "a,b\r\nc,d\ne,f\rg,h"), "1:[a][b]\n2:[c][d]\n3:[e][f]\n4:[g][h]\n");
}

static void
empty_lines_are_skipped_and_counted(void **state)
{
	assert_string_equal(read_all(state, "\na\n\n\r\nb\n\n"), "2:[a]\n5:[b]\n");
}

static void
quoted_fields_hold_delimiters_and_quotes(void **state)
{
	assert_string_equal(read_all(state, "\"a,b\",\"say \"\"hi\"\"\",\"\",\"\"\"\"\n"),
	    "1:[a,b][say \"hi\"][][\"]\n");
}

static void
quoted_fields_hold_line_breaks(void **state)
{
	assert_string_equal(read_all(state, "\"x\r\ny\",1\r\n2,\"p\nq\rr\"\n3"),
	    "1:[x\r\ny][1]\n3:[2][p\nq\rr]\n6:[3]\n");
}

static void
empty_fields_are_kept(void **state)
{
	assert_string_equal(read_all(state, "a,\n,\n,,b"), "1:[a][]\n2:[][]\n3:[][][b]\n");
}

static void
spaces_are_part_of_fields(void **state)
{
	assert_string_equal(read_all(state, " a , b \n"), "1:[ a ][ b ]\n");
}

static void
another_delimiter_can_be_chosen(void **state)
{
	const char *text = "a,1;\"b;c\";d\n";

	assert_string_equal(read_all_with(state, text, strlen(text), ';'), "1:[a,1][b;c][d]\n");
	text = "x\ty,z\n";
	assert_string_equal(read_all_with(state, text, strlen(text), '\t'), "1:[x][y,z]\n");
}

static void
unterminated_quote_is_refused_naming_its_line(void **state)
{
	assert_refused(state, "a,b\nc,\"open\nmore\n", "malformed_row", 2);
	assert_refused(state, "\"x\ny\",\"open", "malformed_row", 2);
}

static void
quote_inside_unquoted_field_is_refused(void **state)
{
	assert_refused(state, "a\n\nb\"c\n", "malformed_row", 3);
	assert_refused(state, "a, \"b\"\n", "malformed_row", 1);
}

static void
text_after_closing_quote_is_refused(void **state)
{
	assert_refused(state, "ok\n\"a\"b\n", "malformed_row", 2);
}

/* A row of n columns "0,1,2,...". */
static const char *
row_of(void **state, int n)
{
	struct buf b;

	buf_init(&b, fixture_req(state)->arena);
	for (int i = 0; i < n; i++)
		buf_addf(&b, i == 0 ? "%d" : ",%d", i);
	buf_adds(&b, "\n");
	return buf_cstr(&b);
}

static void
columns_up_to_the_limit_are_read(void **state)
{
	struct req *r = fixture_req(state);
	const char *text = row_of(state, CSV_MAX_COLS);
	struct csv_reader rd;
	struct csv_row row;

	csv_reader_init(&rd, r->arena, text, strlen(text));
	assert_int_equal(csv_next_row(&rd, &row, &r->err), 1);
	assert_int_equal(row.ncols, CSV_MAX_COLS);
	assert_string_equal(row.cols[CSV_MAX_COLS - 1], "199");
	assert_int_equal(csv_next_row(&rd, &row, &r->err), 0);
}

static void
too_many_columns_are_refused(void **state)
{
	const char *text =
	    arena_printf(fixture_req(state)->arena, "a\n%s", row_of(state, CSV_MAX_COLS + 1));

	assert_refused(state, text, "too_many_columns", 2);
}

/* A field of n bytes 'x', quoted or not, then a second row. */
static const char *
field_of(void **state, size_t n, bool quoted)
{
	char *s = arena_alloc(fixture_req(state)->arena, n + 8), *p = s;

	if (quoted)
		*p++ = '"';
	memset(p, 'x', n);
	p += n;
	if (quoted)
		*p++ = '"';
	strcpy(p, "\nz");
	return s;
}

static void
fields_up_to_the_limit_are_read(void **state)
{
	for (int quoted = 0; quoted <= 1; quoted++) {
		const char *rows = read_all(state, field_of(state, CSV_MAX_FIELD, quoted));

		assert_non_null(rows);
		assert_int_equal(strlen(rows), 2 + 2 + CSV_MAX_FIELD + 1 + 6);
		assert_string_equal(rows + strlen(rows) - 6, "2:[z]\n");
	}
}

static void
longer_fields_are_refused(void **state)
{
	assert_refused(state, field_of(state, CSV_MAX_FIELD + 1, false), "field_too_long", 1);
	assert_refused(state, field_of(state, CSV_MAX_FIELD + 1, true), "field_too_long", 1);
}

static void
doubled_quotes_count_once_towards_the_limit(void **state)
{
	/* CSV_MAX_FIELD quotes take twice the bytes, quoted */
	struct buf b;

	buf_init(&b, fixture_req(state)->arena);
	buf_adds(&b, "\"");
	for (int i = 0; i < CSV_MAX_FIELD; i++)
		buf_adds(&b, "\"\"");
	buf_adds(&b, "\"");

	const char *rows = read_all(state, buf_cstr(&b));

	assert_non_null(rows);
	assert_int_equal(strlen(rows), 2 + 2 + CSV_MAX_FIELD + 1);
}

/* ---- writing ---- */

static void
plain_fields_are_written_as_they_are(void **state)
{
	static const char *const values[] = {"a", "张三", "1.5", "a=b"};

	assert_string_equal(write_row(state, values, 4), "a,张三,1.5,a=b\r\n");
}

static void
fields_are_quoted_when_needed(void **state)
{
	assert_string_equal(written(state, "a,b"), "\"a,b\"");
	assert_string_equal(written(state, "say \"hi\""), "\"say \"\"hi\"\"\"");
	assert_string_equal(written(state, "\""), "\"\"\"\"");
	assert_string_equal(written(state, "l1\nl2"), "\"l1\nl2\"");
	assert_string_equal(written(state, "cr\r"), "\"cr\r\"");
	assert_string_equal(written(state, "semi;colon"), "semi;colon");
}

static void
null_writes_an_empty_field(void **state)
{
	static const char *const values[] = {NULL, "x", NULL};

	assert_string_equal(write_row(state, values, 3), ",x,\r\n");
	assert_string_equal(written(state, NULL), "");
	assert_string_equal(written(state, ""), "");
}

static void
formulas_are_neutralised(void **state)
{
	assert_string_equal(written(state, "=1+1"), "'=1+1");
	assert_string_equal(written(state, "+86 138 0000 0000"), "'+86 138 0000 0000");
	assert_string_equal(written(state, "-5"), "'-5");
	assert_string_equal(written(state, "@SUM(A1)"), "'@SUM(A1)");
	assert_string_equal(written(state, "\t=1"), "'\t=1");
	assert_string_equal(written(state, "\r=1"), "\"'\r=1\"");
	assert_string_equal(written(state, "=HYPERLINK(\"http://x\",\"y\")"),
	    "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
	assert_string_equal(written(state, "1=1"), "1=1");
	assert_string_equal(written(state, " =1"), " =1");
}

static void
rows_end_with_crlf(void **state)
{
	struct buf b;

	buf_init(&b, fixture_req(state)->arena);
	csv_end_row(&b);
	csv_add_field(&b, "a", true);
	csv_end_row(&b);
	assert_string_equal(buf_cstr(&b), "\r\na\r\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    FIXTURE_TEST(utf8_is_taken_as_it_is),
	    FIXTURE_TEST(gbk_is_decoded_to_utf8),
	    FIXTURE_TEST(gb18030_four_byte_characters_are_decoded),
	    FIXTURE_TEST(gbk_file_reads_back_as_utf8_rows),
	    FIXTURE_TEST(utf8_file_written_reads_back),
	    FIXTURE_TEST(auto_takes_valid_utf8_as_utf8),
	    FIXTURE_TEST(auto_takes_other_bytes_as_gbk),
	    FIXTURE_TEST(auto_refuses_what_is_neither),
	    FIXTURE_TEST(utf8_bom_is_stripped),
	    FIXTURE_TEST(bom_then_gbk_is_refused_under_auto),
	    FIXTURE_TEST(invalid_utf8_declared_utf8_is_refused),
	    FIXTURE_TEST(invalid_gbk_is_refused),
	    FIXTURE_TEST(nul_byte_is_refused),
	    FIXTURE_TEST(unknown_encoding_is_refused),
	    FIXTURE_TEST(empty_input_decodes_to_empty),
	    FIXTURE_TEST(empty_input_gives_no_rows),
	    FIXTURE_TEST(rows_end_with_lf_crlf_cr_or_the_end),
	    FIXTURE_TEST(empty_lines_are_skipped_and_counted),
	    FIXTURE_TEST(quoted_fields_hold_delimiters_and_quotes),
	    FIXTURE_TEST(quoted_fields_hold_line_breaks),
	    FIXTURE_TEST(empty_fields_are_kept),
	    FIXTURE_TEST(spaces_are_part_of_fields),
	    FIXTURE_TEST(another_delimiter_can_be_chosen),
	    FIXTURE_TEST(unterminated_quote_is_refused_naming_its_line),
	    FIXTURE_TEST(quote_inside_unquoted_field_is_refused),
	    FIXTURE_TEST(text_after_closing_quote_is_refused),
	    FIXTURE_TEST(columns_up_to_the_limit_are_read),
	    FIXTURE_TEST(too_many_columns_are_refused),
	    FIXTURE_TEST(fields_up_to_the_limit_are_read),
	    FIXTURE_TEST(longer_fields_are_refused),
	    FIXTURE_TEST(doubled_quotes_count_once_towards_the_limit),
	    FIXTURE_TEST(plain_fields_are_written_as_they_are),
	    FIXTURE_TEST(fields_are_quoted_when_needed),
	    FIXTURE_TEST(null_writes_an_empty_field),
	    FIXTURE_TEST(formulas_are_neutralised),
	    FIXTURE_TEST(rows_end_with_crlf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
