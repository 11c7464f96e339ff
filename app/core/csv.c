/* CSV decoding, reading and writing; see csv.h. */
#include "csv.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "json.h" /* utf8_length: one definition of valid UTF-8 */

/* ---- encoding ---- */

static void
close_iconv(void *cd)
{
	iconv_close((iconv_t)cd);
}

static int
invalid_encoding(struct err *e, const char *message)
{
	err_set(e, ERR_VALIDATION_FAILED, message);
	return err_field(e, "encoding", "invalid_encoding");
}

/* Decodes GB18030 to UTF-8 into *out; on failure, fills e and leaves *out
 * unchanged. */
static int
from_gb18030(struct arena *a, struct err *e, const char *in, size_t len, const char *invalid,
    const char **out, size_t *out_len)
{
	iconv_t cd = iconv_open("UTF-8", "GB18030");

	if (cd == (iconv_t)-1)
		return err_set(e, ERR_INTERNAL, NULL); /* glibc without gconv modules */
	arena_cleanup(a, close_iconv, cd);

	/* a character of 1, 2 or 4 bytes becomes 1, at most 3, or 4 bytes */
	size_t cap = len + len / 2 + 1;
	char *buf = arena_alloc(a, cap + 1);
	char *ip = (char *)in, *op = buf; /* iconv does not write its input */
	size_t ileft = len, oleft = cap;

	if (iconv(cd, &ip, &ileft, &op, &oleft) == (size_t)-1)
		return errno == E2BIG
		    ? err_set(e, ERR_INTERNAL, NULL)
		    : invalid_encoding(e, invalid); /* EILSEQ, or EINVAL: cut short */
	*op = '\0';
	*out = buf;
	*out_len = (size_t)(op - buf);
	return 0;
}

int
csv_to_utf8(struct arena *a, struct err *e, const char *in, size_t len, const char *encoding,
    const char **out, size_t *out_len)
{
	bool gbk = strcasecmp(encoding, "gbk") == 0;
	bool autodetect = strcasecmp(encoding, "auto") == 0;

	if (!gbk && !autodetect && strcasecmp(encoding, "utf-8") != 0)
		return err_field(e, "encoding", "invalid_value");
	if (len == 0) {
		*out = ""; /* in may be NULL */
		*out_len = 0;
		return 0;
	}
	if (memchr(in, '\0', len) != NULL)
		return invalid_encoding(e, "The file holds a NUL byte: it is not text.");

	/* A BOM says UTF-8. Under "gbk" the same bytes are two characters
	 * (the familiar "锘"), so it is left for the decoder. */
	bool bom = len >= 3 && memcmp(in, CSV_UTF8_BOM, 3) == 0;

	if (!gbk) {
		size_t skip = bom ? 3 : 0;
		const char *s = arena_strndup(a, in + skip, len - skip);

		if (utf8_length(s) != (size_t)-1) {
			*out = s;
			*out_len = len - skip;
			return 0;
		}
		if (!autodetect || bom)
			return invalid_encoding(e, "The file is not valid UTF-8.");
	}
	return from_gb18030(a, e, in, len,
	    gbk ? "The file is not valid GBK." : "The file is neither UTF-8 nor GBK.", out,
	    out_len);
}

/* ---- reading ---- */

void
csv_reader_init(struct csv_reader *r, struct arena *a, const char *data, size_t len)
{
	if (data == NULL)
		data = ""; /* NULL + 0 is undefined */
	*r = (struct csv_reader){a, data, data + len, 1, ','};
}

/* The length of the line break at p: 2 for CRLF, 1 for LF or a lone CR,
 * 0 for none. */
static size_t
line_break(const char *p, const char *end)
{
	if (p == end)
		return 0;
	if (*p == '\n')
		return 1;
	if (*p == '\r')
		return p + 1 < end && p[1] == '\n' ? 2 : 1;
	return 0;
}

static int
malformed(struct csv_reader *r, struct err *e, int line, const char *reason, const char *what)
{
	err_set(e, ERR_VALIDATION_FAILED, arena_printf(r->arena, "Line %d: %s.", line, what));
	return err_field(e, "csv", reason);
}

/* Whether the reader stands at the end of a field: end of data, delimiter
 * or line break. */
static bool
at_field_end(const struct csv_reader *r)
{
	return r->p == r->end || *r->p == r->delimiter || *r->p == '\n' || *r->p == '\r';
}

/* Reads the field whose opening quote is at r->p into *out. */
static int
read_quoted(struct csv_reader *r, struct err *e, const char **out)
{
	int opened = r->line;
	const char *close = r->p + 1;
	size_t n = 0;

	/* first the closing quote and the unquoted length, then the copy */
	for (;; close++, n++) {
		if (close == r->end)
			return malformed(
			    r, e, opened, "malformed_row", "a quoted field is not closed");
		if (*close == '"') {
			if (close + 1 == r->end || close[1] != '"')
				break;
			close++;
		}
		if (n == CSV_MAX_FIELD)
			return malformed(
			    r, e, opened, "field_too_long", "a field is longer than 64 KiB");
	}

	char *s = arena_alloc(r->arena, n + 1), *d = s;

	for (const char *p = r->p + 1; p < close; p++) {
		if (*p == '"')
			p++; /* the first of a doubled quote */
		else if (*p == '\n' || (*p == '\r' && p[1] != '\n'))
			r->line++; /* p[1] is at most the closing quote */
		*d++ = *p;
	}
	*d = '\0';
	r->p = close + 1;
	if (!at_field_end(r))
		return malformed(r, e, r->line, "malformed_row", "text follows a closing quote");
	*out = s;
	return 0;
}

/* Reads the unquoted field at r->p into *out. */
static int
read_plain(struct csv_reader *r, struct err *e, const char **out)
{
	const char *start = r->p;

	for (; !at_field_end(r); r->p++)
		if (*r->p == '"')
			return malformed(
			    r, e, r->line, "malformed_row", "a quote inside an unquoted field");
	if (r->p - start > CSV_MAX_FIELD)
		return malformed(r, e, r->line, "field_too_long", "a field is longer than 64 KiB");
	*out = arena_strndup(r->arena, start, (size_t)(r->p - start));
	return 0;
}

int
csv_next_row(struct csv_reader *r, struct csv_row *row, struct err *e)
{
	const char *cols[CSV_MAX_COLS];
	int ncols = 0;
	size_t brk;

	while ((brk = line_break(r->p, r->end)) > 0) {
		r->p += brk;
		r->line++;
	}
	if (r->p == r->end)
		return 0;

	int line = r->line;

	for (;;) {
		if (ncols == CSV_MAX_COLS)
			return malformed(
			    r, e, line, "too_many_columns", "a row has more than 200 columns");
		if ((r->p < r->end && *r->p == '"' ? read_quoted(r, e, &cols[ncols])
		                                   : read_plain(r, e, &cols[ncols])) == -1)
			return -1;
		ncols++;
		if (r->p == r->end || *r->p != r->delimiter)
			break;
		r->p++;
	}
	if ((brk = line_break(r->p, r->end)) > 0) {
		r->p += brk;
		r->line++;
	}

	row->ncols = ncols;
	row->cols = arena_alloc(r->arena, (size_t)ncols * sizeof(*row->cols));
	memcpy(row->cols, cols, (size_t)ncols * sizeof(*row->cols));
	row->line = line;
	return 1;
}

/* ---- writing ---- */

/* Excel, LibreOffice and Google Sheets take a cell starting with = + - or @
 * for a formula, even in a CSV file, and some skip a leading TAB or CR
 * before looking. A contact named `=HYPERLINK(...)` or `=cmd|...` would then
 * run in the spreadsheet of whoever opens the export (CSV injection, as
 * OWASP describes it). The apostrophe makes the cell text; the price is that
 * "-5" or "+86 138..." exports as "'-5" or "'+86 138...". */
static bool
looks_like_formula(const char *value)
{
	return value[0] != '\0' && strchr("=+-@\t\r", value[0]) != NULL;
}

void
csv_add_field(struct buf *b, const char *value, bool first)
{
	if (!first)
		buf_add(b, ",", 1);
	if (value == NULL)
		return;

	bool quote = strpbrk(value, ",\"\r\n") != NULL;

	if (quote)
		buf_add(b, "\"", 1);
	if (looks_like_formula(value))
		buf_add(b, "'", 1);
	for (const char *q; (q = strchr(value, '"')) != NULL; value = q + 1) {
		buf_add(b, value, (size_t)(q - value) + 1);
		buf_add(b, "\"", 1);
	}
	buf_adds(b, value);
	if (quote)
		buf_add(b, "\"", 1);
}

void
csv_end_row(struct buf *b)
{
	buf_add(b, "\r\n", 2);
}
