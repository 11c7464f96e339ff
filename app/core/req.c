/* Requests and responses; see req.h. Responses are written to FastCGI in one
 * place (write_response), after the transaction has been committed. */
#include "req.h"

#include <fcgiapp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "json.h"
#include "log.h"

void
req_init(struct req *r, struct arena *a)
{
	memset(r, 0, sizeof(*r));
	r->arena = a;
	buf_init(&r->headers, a);
}

const char *
req_param(struct req *r, const char *name)
{
	for (int i = 0; i < r->nparams; i++)
		if (strcmp(r->param_names[i], name) == 0)
			return r->param_values[i];
	return NULL;
}

/* Parses a positive decimal id that fits a bigint; -1 otherwise. */
static int64_t
parse_id(const char *s)
{
	int64_t v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 18)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v > 0 ? v : -1;
}

#define PAGE_DEFAULT 50
#define PAGE_MAX 200

int
req_page(struct req *r, struct page *out)
{
	const char *limit = req_query(r, "limit"), *cursor = req_query(r, "cursor");

	out->limit = limit != NULL ? parse_id(limit) : PAGE_DEFAULT;
	out->after = cursor != NULL ? parse_id(cursor) : 0;
	if (out->limit < 1 || out->limit > PAGE_MAX)
		err_field(&r->err, "limit", "invalid_value");
	if (out->after < 0)
		err_set(&r->err, ERR_BAD_REQUEST, "The cursor is not valid.");
	return r->err.code == ERR_NONE ? 0 : -1;
}

int
req_param_id_or_fail(struct req *r, const char *name, int64_t *out)
{
	*out = parse_id(req_param(r, name));
	return *out > 0 ? 0 : err_set(&r->err, ERR_NOT_FOUND, NULL);
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX and '+'; *len receives the decoded length (it may hold NUL). */
static char *
url_decode_len(struct arena *a, const char *s, size_t n, size_t *len)
{
	char *out = arena_alloc(a, n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%' && i + 2 < n &&
		    hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
			*o++ = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	*len = (size_t)(o - out);
	return out;
}

static char *
url_decode(struct arena *a, const char *s, size_t n)
{
	size_t len;

	return url_decode_len(a, s, n, &len);
}

bool
req_query_valid(struct req *r)
{
	for (const char *p = r->query; *p != '\0';) {
		size_t len = strcspn(p, "&"), decoded_len;
		char *pair = url_decode_len(r->arena, p, len, &decoded_len);

		if (strlen(pair) != decoded_len || utf8_length(pair) == (size_t)-1)
			return false;
		p += len;
		if (*p == '&')
			p++;
	}
	return true;
}

const char *
req_query(struct req *r, const char *name)
{
	size_t name_len = strlen(name);

	for (const char *p = r->query; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t key_len = eq != NULL ? (size_t)(eq - p) : len;

		if (key_len == name_len && memcmp(p, name, name_len) == 0)
			return eq != NULL ? url_decode(r->arena, eq + 1,
			    len - key_len - 1) : "";
		p += len;
		if (*p == '&')
			p++;
	}
	return NULL;
}

int
req_query_each(struct req *r, int (*fn)(struct req *r, const char *key,
    const char *value, void *ctx), void *ctx)
{
	for (const char *p = r->query; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t key_len = eq != NULL ? (size_t)(eq - p) : len;
		int rc = fn(r, url_decode(r->arena, p, key_len), eq != NULL ?
		    url_decode(r->arena, eq + 1, len - key_len - 1) : "", ctx);

		if (rc != 0)
			return rc;
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
}

void
req_header(struct req *r, const char *name, const char *value)
{
	buf_addf(&r->headers, "%s: %s\r\n", name, value);
}

const char *
req_i64(struct req *r, int64_t v)
{
	return arena_printf(r->arena, "%" PRId64, v);
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

/* The status line and headers; content_type NULL sends none (no body). */
static void
write_head(struct req *r, int status, const char *content_type, size_t body_len)
{
	struct buf head;

	r->status = status;
	r->responded = true;
	if (r->fcgi == NULL)
		return;
	buf_init(&head, r->arena);
	buf_addf(&head, "Status: %d %s\r\nX-Request-Id: %s\r\nCache-Control: no-store\r\n",
	    status, status_text(status), r->request_id != NULL ? r->request_id : "-");
	if (content_type != NULL)
		buf_addf(&head, "Content-Type: %s\r\n", content_type);
	if (content_type != NULL && body_len != (size_t)-1)
		buf_addf(&head, "Content-Length: %zu\r\n", body_len);
	buf_add(&head, r->headers.data, r->headers.len);
	buf_add(&head, "\r\n", 2);
	FCGX_PutStr(head.data, (int)head.len, r->fcgi->out);
}

static int
write_response(struct req *r, int status, const char *body)
{
	size_t body_len = body != NULL ? strlen(body) : 0;

	write_head(r, status, body != NULL ? "application/json; charset=utf-8" : NULL,
	    body_len);
	r->response_body = body;
	if (r->fcgi != NULL && body_len > 0)
		FCGX_PutStr(body, (int)body_len, r->fcgi->out);
	return 0;
}

void
req_stream_begin(struct req *r, const char *content_type)
{
	write_head(r, 200, content_type, (size_t)-1);
}

int
req_stream_write(struct req *r, const char *data, size_t len)
{
	if (r->fcgi == NULL || len == 0)
		return 0;
	if (FCGX_PutStr(data, (int)len, r->fcgi->out) < 0 || FCGX_FFlush(r->fcgi->out) < 0)
		return -1;
	return 0;
}

int
req_fail(struct req *r)
{
	struct buf b;

	if (r->responded)
		return 0;
	if (r->err.code == ERR_NONE)
		r->err.code = ERR_INTERNAL;
	db_rollback(r);
	buf_init(&b, r->arena);
	buf_adds(&b, "{\"error\":{\"code\":");
	buf_add_json_str(&b, err_name(r->err.code));
	buf_adds(&b, ",\"message\":");
	buf_add_json_str(&b, r->err.message != NULL ? r->err.message :
	    err_default_message(r->err.code));
	if (r->err.nfields > 0) {
		buf_adds(&b, ",\"fields\":{");
		for (int i = 0; i < r->err.nfields; i++) {
			if (i > 0)
				buf_adds(&b, ",");
			buf_add_json_str(&b, r->err.fields[i].name);
			buf_adds(&b, ":");
			buf_add_json_str(&b, r->err.fields[i].reason);
		}
		buf_adds(&b, "}");
	}
	if (r->err.extra_json != NULL) {
		buf_adds(&b, ",");
		buf_adds(&b, r->err.extra_json);
	}
	buf_adds(&b, "}}");
	return write_response(r, err_status(r->err.code), buf_cstr(&b));
}

int
req_fail_with(struct req *r, enum err_code code, const char *message)
{
	err_set(&r->err, code, message);
	return req_fail(r);
}

int
req_json(struct req *r, int status, const char *json)
{
	if (db_commit(r) != 0)
		return req_fail(r);
	return write_response(r, status, json);
}

int
req_replay(struct req *r, int status, const char *body)
{
	return write_response(r, status, status == 204 ? NULL : body);
}

int
req_no_content(struct req *r)
{
	if (db_commit(r) != 0)
		return req_fail(r);
	return write_response(r, 204, NULL);
}
