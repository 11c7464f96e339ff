/* CSV imports: POST /api/v1/imports takes a CSV file, UTF-8 or GBK, as the
 * raw body (parameters in the query string) or as multipart/form-data (a
 * `file` part and parameters as parts): object, encoding (auto, utf-8, gbk),
 * mapping (JSON {"column": "field"}), dry_run, duplicates (skip, update,
 * create). crm-api turns the file into rows; the tenant schema imports them
 * row by row (sql/tenant/007_imports.sql). Up to IMPORT_SYNC_ROWS rows are
 * imported in the request (201); a larger file becomes a job for crm-worker
 * (202) whose progress GET /api/v1/imports/{id} shows. */
#include <string.h>

#include "app/core/call.h"
#include "app/core/csv.h"
#include "app/core/json.h"
#include "app/core/module.h"

#define IMPORT_SYNC_ROWS 500
#define IMPORT_MAX_ROWS 100000
#define IMPORT_PARAM_MAX (64 * 1024)
#define MULTIPART_MAX_PARTS 16

struct import_params {
	const char *object, *encoding, *dry_run, *duplicates, *mapping, *filename;
	const char *file;
	size_t file_len;
};

static struct db_stmt stmt_create = DB_STMT(
    "SELECT import_create($1::jsonb, $2)::text", 2);
static struct db_stmt stmt_enqueue = DB_STMT(
    "INSERT INTO public.jobs (tenant_id, kind, ref_id) VALUES ($1, 'import', $2)", 2);
static struct call import_get = CALL("SELECT import_get($1)::text", 1, "{id}", 200);
static struct call import_list = CALL("SELECT import_list($1, $2, $3)::text", 3,
    "limit cursor q:dry_run", 200);

/* Stores a named parameter (a multipart part or a query parameter). */
static int
set_param(struct req *r, struct import_params *p, const char *name,
    const char *value, size_t len)
{
	static const char *const names[] = {"object", "encoding", "dry_run",
	    "duplicates", "mapping", "filename", NULL};
	const char **slots[] = {&p->object, &p->encoding, &p->dry_run,
	    &p->duplicates, &p->mapping, &p->filename};

	for (int i = 0; names[i] != NULL; i++) {
		if (strcmp(name, names[i]) != 0)
			continue;
		if (len > IMPORT_PARAM_MAX || memchr(value, '\0', len) != NULL)
			return err_field(&r->err, name, "invalid_value");
		*slots[i] = arena_strndup(r->arena, value, len);
	}
	return 0;
}

/* The value of `key="…"` in a header line, or NULL. */
static const char *
header_attr(struct arena *a, const char *line, size_t len, const char *key)
{
	const char *end = line + len;
	size_t klen = strlen(key);

	for (const char *p = line; p + klen + 2 <= end; p++) {
		if ((p == line || p[-1] == ' ' || p[-1] == ';') &&
		    strncmp(p, key, klen) == 0 && p[klen] == '=' && p[klen + 1] == '"') {
			const char *v = p + klen + 2;
			const char *q = memchr(v, '"', (size_t)(end - v));
			return q != NULL ? arena_strndup(a, v, (size_t)(q - v)) : NULL;
		}
	}
	return NULL;
}

/* Splits a multipart/form-data body into the file and the parameters. */
static int
parse_multipart(struct req *r, struct import_params *p)
{
	const char *b = strstr(r->content_type, "boundary=");
	static const char malformed[] = "The multipart body is malformed.";

	if (b == NULL)
		return err_set(&r->err, ERR_BAD_REQUEST, malformed);
	b += 9;
	size_t blen = strcspn(b, "; ");
	if (*b == '"')
		blen = strcspn(++b, "\"");
	if (blen == 0 || blen > 200)
		return err_set(&r->err, ERR_BAD_REQUEST, malformed);
	const char *delim = arena_printf(r->arena, "\r\n--%.*s", (int)blen, b);
	size_t dlen = strlen(delim);
	const char *end = r->body + r->body_len;
	const char *at;
	/* the first delimiter may start the body, without the CRLF */
	if (r->body_len >= dlen - 2 && memcmp(r->body, delim + 2, dlen - 2) == 0)
		at = r->body + dlen - 2;
	else if ((at = memmem(r->body, r->body_len, delim, dlen)) != NULL)
		at += dlen;
	for (int parts = 0; at != NULL && parts < MULTIPART_MAX_PARTS; parts++) {
		if (end - at >= 2 && memcmp(at, "--", 2) == 0)
			return 0;
		if (end - at < 2 || memcmp(at, "\r\n", 2) != 0)
			break;
		const char *head = at + 2;
		const char *head_end = memmem(head, (size_t)(end - head), "\r\n\r\n", 4);
		if (head_end == NULL)
			break;
		const char *data = head_end + 4;
		const char *next = memmem(data, (size_t)(end - data), delim, dlen);
		if (next == NULL)
			break;
		const char *name = header_attr(r->arena, head, (size_t)(head_end - head), "name");
		if (name != NULL && strcmp(name, "file") == 0) {
			p->file = data;
			p->file_len = (size_t)(next - data);
			if (p->filename == NULL)
				p->filename = header_attr(r->arena, head,
				    (size_t)(head_end - head), "filename");
		} else if (name != NULL &&
		    set_param(r, p, name, data, (size_t)(next - data)) != 0) {
			return -1;
		}
		at = next + dlen;
	}
	return err_set(&r->err, ERR_BAD_REQUEST, malformed);
}

/* The file and parameters, from a multipart body or a raw one plus the
 * query string; defaults filled in and each parameter checked. */
static int
import_params_parse(struct req *r, struct import_params *p)
{
	static const char *const query[] = {"object", "encoding", "dry_run",
	    "duplicates", "mapping", "filename", NULL};
	const char *type = r->content_type != NULL ? r->content_type : "";

	memset(p, 0, sizeof(*p));
	for (int i = 0; query[i] != NULL; i++) {
		const char *v = req_query(r, query[i]);
		if (v != NULL && set_param(r, p, query[i], v, strlen(v)) != 0)
			return -1;
	}
	if (strncasecmp(type, "multipart/form-data", 19) == 0) {
		if (parse_multipart(r, p) != 0)
			return -1;
	} else if (strncasecmp(type, "text/csv", 8) == 0 ||
	    strncasecmp(type, "text/plain", 10) == 0 ||
	    strncasecmp(type, "application/octet-stream", 24) == 0) {
		p->file = r->body;
		p->file_len = r->body_len;
	} else {
		return err_set(&r->err, ERR_UNSUPPORTED_MEDIA_TYPE,
		    "Send the file as text/csv or multipart/form-data.");
	}
	if (p->file == NULL || p->file_len == 0)
		err_field(&r->err, "file", "required");
	if (p->object == NULL)
		err_field(&r->err, "object", "required");
	p->encoding = p->encoding != NULL ? p->encoding : "auto";
	p->dry_run = p->dry_run != NULL ? p->dry_run : "false";
	if (strcmp(p->dry_run, "true") != 0 && strcmp(p->dry_run, "false") != 0)
		err_field(&r->err, "dry_run", "invalid_value");
	p->duplicates = p->duplicates != NULL ? p->duplicates : "skip";
	if (strcmp(p->duplicates, "skip") != 0 && strcmp(p->duplicates, "update") != 0 &&
	    strcmp(p->duplicates, "create") != 0)
		err_field(&r->err, "duplicates", "invalid_option");
	if (p->mapping != NULL) {
		struct err ignored = {0};
		if (json_parse_object(r->arena, &ignored, p->mapping, strlen(p->mapping)) == NULL)
			err_field(&r->err, "mapping", "invalid_json");
	}
	return r->err.code == ERR_NONE ? 0 : -1;
}

static void
add_json_row(struct buf *b, const struct csv_row *row)
{
	buf_adds(b, "[");
	for (int i = 0; i < row->ncols; i++) {
		if (i > 0)
			buf_adds(b, ",");
		buf_add_json_str(b, row->cols[i]);
	}
	buf_adds(b, "]");
}

/* The import_create argument: parameters, header row and data rows. */
static int
import_document(struct req *r, const struct import_params *p, const char **out)
{
	const char *text;
	size_t len;
	struct csv_reader reader;
	struct csv_row row;
	struct buf b;
	int rows = 0, rc;

	if (csv_to_utf8(r->arena, &r->err, p->file, p->file_len, p->encoding, &text, &len) != 0)
		return -1;
	csv_reader_init(&reader, r->arena, text, len);
	if ((rc = csv_next_row(&reader, &row, &r->err)) <= 0)
		return rc < 0 ? -1 : err_field(&r->err, "file", "empty");
	buf_init(&b, r->arena);
	buf_addf(&b, "{\"object\":");
	buf_add_json_str(&b, p->object);
	buf_addf(&b, ",\"dry_run\":%s,\"duplicates\":\"%s\",\"mapping\":%s,\"filename\":",
	    p->dry_run, p->duplicates, p->mapping != NULL ? p->mapping : "null");
	if (p->filename != NULL)
		buf_add_json_str(&b, p->filename);
	else
		buf_adds(&b, "null");
	buf_adds(&b, ",\"headers\":");
	add_json_row(&b, &row);
	buf_adds(&b, ",\"rows\":[");
	while ((rc = csv_next_row(&reader, &row, &r->err)) > 0) {
		if (++rows > IMPORT_MAX_ROWS)
			return err_field(&r->err, "file", "too_many_rows");
		buf_addf(&b, "%s{\"line\":%d,\"cells\":", rows > 1 ? "," : "", row.line);
		add_json_row(&b, &row);
		buf_adds(&b, "}");
	}
	if (rc < 0)
		return -1;
	if (rows == 0)
		return err_field(&r->err, "file", "empty");
	buf_adds(&b, "]}");
	*out = buf_cstr(&b);
	return 0;
}

/* POST /api/v1/imports */
static int
imports_create(struct req *r)
{
	struct import_params p;
	const char *doc = NULL;

	if (import_params_parse(r, &p) != 0 || import_document(r, &p, &doc) != 0)
		return req_fail(r);
	const char *json = DB_VALUE(r, &stmt_create, 0, doc, req_i64(r, IMPORT_SYNC_ROWS));
	if (json == NULL)
		return req_fail(r);
	cJSON *imp = json_parse_object(r->arena, &r->err, json, strlen(json));
	if (imp == NULL)
		return req_fail(r);
	const cJSON *status = cJSON_GetObjectItem(imp, "status");
	bool queued = cJSON_IsString(status) && strcmp(status->valuestring, "queued") == 0;
	if (queued && (db_switch_tenant(r, 0) != 0 ||
	    DB_EXEC(r, &stmt_enqueue, 0, req_i64(r, r->id.tenant_id),
	    req_i64(r, (int64_t)cJSON_GetObjectItem(imp, "id")->valuedouble)) == NULL))
		return req_fail(r);
	if (db_commit(r) != 0)
		return req_fail(r);
	return req_json(r, queued ? 202 : 201, json);
}

static const struct route routes[] = {
	{"POST", "/api/v1/imports", imports_create, AUTH_TENANT, NULL, ROUTE_UPLOAD, NULL},
	{"GET", "/api/v1/imports", call_handler, AUTH_TENANT, NULL, 0, &import_list},
	{"GET", "/api/v1/imports/{id}", call_handler, AUTH_TENANT, NULL, 0, &import_get},
	{NULL, NULL, NULL, AUTH_NONE, NULL, 0, NULL},
};

const struct module imports_module = {"imports", routes};
