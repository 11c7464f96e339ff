/* GET /api/v1/<object>/export?<list query>: every record the list query
 * finds, as CSV (UTF-8 with a BOM, which Excel needs to read Chinese), in
 * the caller's scope and without the fields hidden from their role. Pages
 * of the list are fetched in one transaction and streamed as they come. */
#include <string.h>

#include "app/core/call.h"
#include "app/core/csv.h"
#include "app/core/json.h"
#include "app/core/log.h"
#include "app/modules/records/records.h"

#define EXPORT_PAGE 500
#define EXPORT_MAX_ROWS 1000000

/* [{key, label, custom}…]: the columns the caller may see, in form order. */
static struct db_stmt stmt_columns = DB_STMT(
    "SELECT export_columns($1)::text", 1);
/* A page of record_list, members and customers by name. */
static struct db_stmt stmt_page = DB_STMT(
    "SELECT export_page($1, $2::jsonb)::text", 2);

/* A JSON value as CSV text: strings as they are, arrays joined by "; ". */
static const char *
cell_text(struct arena *a, const cJSON *v)
{
	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsArray(v)) {
		struct buf b;
		const cJSON *item;
		buf_init(&b, a);
		cJSON_ArrayForEach(item, v) {
			if (b.len > 0)
				buf_adds(&b, "; ");
			const char *s = cell_text(a, item);
			buf_adds(&b, s != NULL ? s : "");
		}
		return buf_cstr(&b);
	}
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? "true" : "false";
	char *text = cJSON_PrintUnformatted(v);
	const char *copy = arena_strdup(a, text);
	cJSON_free(text);
	return copy;
}

static void
add_header(struct buf *b, const cJSON *columns)
{
	const cJSON *col;
	bool first = true;

	buf_adds(b, CSV_UTF8_BOM);
	cJSON_ArrayForEach(col, columns) {
		csv_add_field(b, cJSON_GetObjectItem(col, "label")->valuestring, first);
		first = false;
	}
	csv_end_row(b);
}

/* Appends the records of one list page; returns how many. */
static int
add_rows(struct buf *b, const cJSON *columns, const cJSON *records)
{
	const cJSON *rec, *col;
	int n = 0;

	cJSON_ArrayForEach(rec, records) {
		const cJSON *custom = cJSON_GetObjectItem(rec, "custom");
		bool first = true;
		cJSON_ArrayForEach(col, columns) {
			const char *key = cJSON_GetObjectItem(col, "key")->valuestring;
			bool is_custom = cJSON_IsTrue(cJSON_GetObjectItem(col, "custom"));
			csv_add_field(b, cell_text(b->arena,
			    cJSON_GetObjectItem(is_custom ? custom : rec, key)), first);
			first = false;
		}
		csv_end_row(b);
		n++;
	}
	return n;
}

/* Fetches the page params asks for into arena a; NULL with r->err set. */
static cJSON *
fetch_page(struct req *r, const char *obj, const cJSON *params)
{
	const char *json = DB_VALUE(r, &stmt_page, 0, obj, json_print(r->arena, params));

	return json != NULL ? json_parse_object(r->arena, &r->err, json, strlen(json)) : NULL;
}

int
records_export(struct req *r)
{
	const char *obj = call_object(r), *list, *cols_json;
	cJSON *params, *columns, *page;

	if (call_list_params(r, EXPORT_PAGE, &list) != 0 ||
	    (params = json_parse_object(r->arena, &r->err, list, strlen(list))) == NULL ||
	    (cols_json = DB_VALUE(r, &stmt_columns, 0, obj)) == NULL)
		return req_fail(r);
	columns = cJSON_Parse(cols_json);
	arena_cleanup(r->arena, (void (*)(void *))cJSON_Delete, columns);
	cJSON_DeleteItemFromObject(params, "limit");
	cJSON_AddNumberToObject(params, "limit", EXPORT_PAGE);
	if ((page = fetch_page(r, obj, params)) == NULL)
		return req_fail(r);

	req_header(r, "Content-Disposition", arena_printf(r->arena,
	    "attachment; filename=\"%s.csv\"", obj));
	req_stream_begin(r, "text/csv; charset=utf-8");
	struct arena *request_arena = r->arena;
	int rows = 0;
	for (;;) {
		struct buf out;
		buf_init(&out, r->arena);
		if (rows == 0)
			add_header(&out, columns);
		rows += add_rows(&out, columns, cJSON_GetObjectItem(page, "data"));
		const cJSON *next = cJSON_GetObjectItem(page, "next_cursor");
		/* a client that went away ends the export */
		if (req_stream_write(r, out.data, out.len) != 0 || !cJSON_IsString(next) ||
		    rows >= EXPORT_MAX_ROWS)
			break;
		cJSON_DeleteItemFromObject(params, "cursor");
		cJSON_AddStringToObject(params, "cursor", next->valuestring);
		/* Each page lives in an arena of its own, so a large export holds
		 * one page in memory, not the whole file. */
		if (r->arena != request_arena) {
			arena_free(r->arena);
			r->arena = request_arena;
		}
		struct arena *page_arena = arena_alloc(request_arena, sizeof(*page_arena));
		arena_init(page_arena);
		r->arena = page_arena;
		if ((page = fetch_page(r, obj, params)) == NULL) {
			/* the answer is under way: all that is left is to stop */
			log_error("export of %s stopped after %d rows: %s", obj, rows,
			    err_name(r->err.code));
			r->err = (struct err){0};
			break;
		}
	}
	if (r->arena != request_arena) {
		arena_free(r->arena);
		r->arena = request_arena;
	}
	db_commit(r);
	return 0;
}
