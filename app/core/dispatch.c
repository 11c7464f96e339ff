/* One request from FastCGI parameters to the access-log line; see dispatch.h. */
#include "dispatch.h"

#include <fcgiapp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "db.h"
#include "idempotency.h"
#include "json.h"
#include "log.h"
#include "module.h"
#include "req.h"
#include "router.h"
#include "session.h"

#define MAX_QUERY 4096
#define MAX_PATH 1024

static const char *
param(FCGX_Request *fr, const char *name)
{
	return FCGX_GetParam(name, fr->envp);
}

/* nginx's $request_id when it is sane, else a fresh one. */
static const char *
request_id(struct req *r, const char *given)
{
	if (given != NULL && strlen(given) <= 64 &&
	    strspn(given, "0123456789abcdefABCDEF-") == strlen(given) && *given)
		return given;
	unsigned char raw[16];
	char *hex = arena_alloc(r->arena, 33);
	randombytes_buf(raw, sizeof(raw));
	return sodium_bin2hex(hex, 33, raw, sizeof(raw));
}

static void
read_params(struct req *r, FCGX_Request *fr)
{
	const char *uri = param(fr, "DOCUMENT_URI");
	const char *query = param(fr, "QUERY_STRING");

	r->fcgi = fr;
	r->method = param(fr, "REQUEST_METHOD");
	r->path = uri;
	r->query = query != NULL ? query : "";
	r->content_type = param(fr, "CONTENT_TYPE");
	r->request_id = request_id(r, param(fr, "REQUEST_ID"));
	r->client_ip = param(fr, "REMOTE_ADDR");
	r->user_agent = param(fr, "HTTP_USER_AGENT");
	r->authorization = param(fr, "HTTP_AUTHORIZATION");
	r->idempotency_header = param(fr, "HTTP_IDEMPOTENCY_KEY");
	r->if_match = param(fr, "HTTP_IF_MATCH");
	if (r->method == NULL)
		r->method = "GET";
	if (r->path == NULL)
		r->path = "/";
}

static int
authenticate(struct req *r)
{
	enum route_auth need = r->route->auth;
	struct token_claims c;

	if (need == AUTH_NONE)
		return 0;
	if (r->authorization == NULL || strncasecmp(r->authorization, "Bearer ", 7) != 0)
		return err_set(&r->err, ERR_UNAUTHORIZED, NULL);
	if (auth_token_verify(r, r->authorization + 7, need == AUTH_TENANT ?
	    AUTH_AUD_TENANT : AUTH_AUD_PLATFORM, &c) != 0)
		return -1;
	if ((need == AUTH_TENANT) != (c.tid > 0))
		return err_set(&r->err, ERR_UNAUTHORIZED, NULL);
	if (session_check(r, &c) != 0)
		return -1;
	log_set_context(r->request_id, c.tid);
	return 0;
}

static bool
is_json_type(const char *type)
{
	if (type == NULL || strncasecmp(type, "application/json", 16) != 0)
		return false;
	return type[16] == '\0' || type[16] == ';' || type[16] == ' ';
}

/* Reads the body of ROUTE_JSON_BODY routes (parsed, within the JSON limits)
 * and ROUTE_UPLOAD routes (as it is); other routes ignore theirs. */
static int
read_body(struct req *r)
{
	const char *cl = param(r->fcgi, "CONTENT_LENGTH");
	long long len = cl != NULL ? atoll(cl) : 0;
	bool upload = r->route->flags & ROUTE_UPLOAD;

	if (len > (upload ? REQ_MAX_UPLOAD : REQ_MAX_BODY))
		return err_set(&r->err, ERR_PAYLOAD_TOO_LARGE, NULL);
	if (len < 0)
		return err_set(&r->err, ERR_BAD_REQUEST, "The Content-Length is not valid.");
	if (!(r->route->flags & (ROUTE_JSON_BODY | ROUTE_UPLOAD)))
		return 0;
	if (!upload && !is_json_type(r->content_type))
		return err_set(&r->err, ERR_UNSUPPORTED_MEDIA_TYPE, NULL);
	char *body = arena_alloc(r->arena, (size_t)len + 1);
	int got = 0;
	while (got < len) {
		int n = FCGX_GetStr(body + got, (int)(len - got), r->fcgi->in);
		if (n <= 0)
			break;
		got += n;
	}
	if (got != len)
		return err_set(&r->err, ERR_BAD_REQUEST, "The body ended early.");
	r->body = body;
	r->body_len = (size_t)len;
	if (upload)
		return 0;
	r->json = json_parse_object(r->arena, &r->err, body, (size_t)len);
	return r->json != NULL ? 0 : -1;
}

static int
handle(struct req *r)
{
	if (strlen(r->path) > MAX_PATH || strlen(r->query) > MAX_QUERY)
		return req_fail_with(r, ERR_BAD_REQUEST, "The URL is too long.");
	if (!req_query_valid(r))
		return req_fail_with(r, ERR_BAD_REQUEST, "The query string is not valid UTF-8.");
	if (router_match(r, modules) != 0 || authenticate(r) != 0 || read_body(r) != 0)
		return req_fail(r);
	/* A replay needs the same caller, path, key and body (hashed). */
	if (r->idempotency_header != NULL && strcmp(r->method, "POST") == 0 &&
	    !(r->route->flags & ROUTE_CREDENTIALS)) {
		int claimed = idempotency_begin(r, r->idempotency_header);
		if (claimed != 0)
			return claimed > 0 ? 0 : req_fail(r);
	}
	if (r->route->auth == AUTH_TENANT)
		db_begin(r, r->id.tenant_id);
	return r->route->handler(r);
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

void
dispatch_request(FCGX_Request *fr, struct arena *a)
{
	struct timespec t0;
	struct req r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	req_init(&r, a);
	read_params(&r, fr);
	log_set_context(r.request_id, 0);
	handle(&r);
	if (!r.responded) {
		log_error("handler of %s %s gave no answer", r.method, r.path);
		req_fail_with(&r, ERR_INTERNAL, NULL);
	}
	db_rollback(&r);	/* a no-op unless a handler left a transaction open */
	idempotency_end(&r);
	if (r.status >= 500)
		LOG_AT(err_log_level(r.err.code), "%s %s %d %.2fms %s", r.method,
		    r.path, r.status, ms_since(&t0), err_name(r.err.code));
	else
		log_info("%s %s %d %.2fms", r.method, r.path, r.status, ms_since(&t0));
	log_set_context(NULL, 0);
	arena_reset(a);
}
