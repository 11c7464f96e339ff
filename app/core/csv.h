/* CSV for import and export: decoding an uploaded file to UTF-8 (UTF-8 or
 * GBK, as Excel saves it on Chinese Windows), reading RFC 4180 rows within
 * limits, and writing fields that spreadsheets will not run as formulas.
 * Everything lives in the caller's arena. */
#ifndef CRM_CSV_H
#define CRM_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "err.h"

#define CSV_MAX_COLS 200
#define CSV_MAX_FIELD (64 * 1024) /* bytes of one field, after unquoting */

/* Written first, it makes Excel open a UTF-8 export as UTF-8 rather than as
 * the system's code page. */
#define CSV_UTF8_BOM "\xEF\xBB\xBF"

/* Decodes len bytes of in, in encoding "utf-8", "gbk" or "auto", to UTF-8.
 * "gbk" is decoded as GB18030, its superset; "auto" takes the input as UTF-8
 * when it starts with a BOM or is valid UTF-8 throughout, else as GB18030.
 * A UTF-8 BOM is dropped (under "gbk" those bytes are GBK text). On success
 * *out is NUL-terminated UTF-8 in the arena, free of NUL bytes, and *out_len
 * its length. On failure returns -1 with, in e, ERR_VALIDATION_FAILED and
 * the field "encoding" (invalid_encoding: bytes invalid in the encoding or a
 * NUL byte; invalid_value: an unknown encoding), or ERR_INTERNAL when the C
 * library cannot decode GB18030; *out and *out_len are unchanged. */
int csv_to_utf8(struct arena *a, struct err *e, const char *in, size_t len, const char *encoding,
    const char **out, size_t *out_len);

struct csv_reader {
	struct arena *arena;
	const char *p, *end; /* what is left to read */
	int line;            /* physical line of p, 1-based */
	char delimiter;      /* ',' after init; may be set to ';' or '\t' before reading */
};

struct csv_row {
	int ncols;         /* 1..CSV_MAX_COLS */
	const char **cols; /* NUL-terminated fields, in the arena */
	int line;          /* physical line the row starts on, 1-based */
};

/* Reads the len bytes of data (UTF-8 without NUL bytes, as csv_to_utf8
 * returns it), which must outlive the reader. Fields go to the arena a. */
void csv_reader_init(struct csv_reader *r, struct arena *a, const char *data, size_t len);
/* Reads the next row into row: quoted fields may hold delimiters, doubled
 * quotes and line breaks; lines end with CRLF, LF or CR; empty lines are
 * skipped. Returns 1 with a row, 0 at the end of the data (row unchanged),
 * or -1 with ERR_VALIDATION_FAILED in e, the field "csv" (malformed_row,
 * too_many_columns or field_too_long) and a message naming the line; the
 * reader cannot be used after -1, as it cannot tell where the next row
 * starts. */
int csv_next_row(struct csv_reader *r, struct csv_row *row, struct err *e);

/* Appends value as a field of a comma-separated row, with a comma before it
 * unless first. Quotes it when it holds a comma, quote, CR or LF; a value
 * that a spreadsheet would take for a formula gets a leading apostrophe (see
 * csv.c). NULL writes an empty field. */
void csv_add_field(struct buf *b, const char *value, bool first);
/* Ends the row with CRLF, as RFC 4180 and Excel expect. */
void csv_end_row(struct buf *b);

#endif
