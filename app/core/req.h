/* A unit of work: one HTTP request in crm-api, or one command in crmctl and
 * crm-worker (then without FastCGI). Holds the arena, the caller's identity,
 * the database transaction state and the error being built. */
#ifndef CRM_REQ_H
#define CRM_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"

struct route;
struct cJSON;
typedef struct FCGX_Request FCGX_Request;

#define REQ_MAX_BODY (1024 * 1024)
#define REQ_MAX_UPLOAD (20 * 1024 * 1024)
#define REQ_MAX_PARAMS 4

enum tx_state {
	TX_NONE,	/* no transaction */
	TX_PENDING,	/* BEGIN and the tenant context are queued, not yet sent */
	TX_OPEN,
	TX_FAILED,	/* a statement failed: only ROLLBACK remains */
};

struct identity {
	enum { ID_NONE, ID_MEMBER, ID_OPERATOR } kind;
	int64_t user_id;	/* users.id, or operators.id for an operator */
	int64_t tenant_id;	/* 0 for operators */
	const char *session_id;
	const char *role;	/* live role key from the session */
	int64_t expires_at;
};

struct req {
	struct arena *arena;
	FCGX_Request *fcgi;	/* NULL outside crm-api */

	/* request */
	const char *method, *path, *query, *content_type;
	const char *request_id, *client_ip, *user_agent, *authorization;
	const char *idempotency_header;	/* Idempotency-Key, or NULL */
	const char *if_match;	/* If-Match, or NULL */
	const char *body;
	size_t body_len;
	struct cJSON *json;	/* the parsed body on ROUTE_JSON_BODY routes */
	const struct route *route;
	int nparams;
	const char *param_names[REQ_MAX_PARAMS], *param_values[REQ_MAX_PARAMS];
	struct identity id;

	/* database */
	enum tx_state tx;
	int64_t tx_tenant;	/* tenant context to enter with the transaction */
	const char *db_constraint;	/* constraint named by the last failure */

	/* response */
	int status;
	bool responded;
	const char *response_body;	/* what was answered, for idempotent replays */
	const char *idempotency_key;	/* Redis key claimed for this request */
	struct buf headers;	/* extra response headers, "Name: value\r\n" each */
	struct err err;
};

/* Prepares r for a new unit of work on arena a. */
void req_init(struct req *r, struct arena *a);

/* Path parameter by name, or NULL. */
const char *req_param(struct req *r, const char *name);
/* A path parameter that must be a positive integer: 404 otherwise. */
int req_param_id_or_fail(struct req *r, const char *name, int64_t *out);
/* True when every decoded query-string key and value is UTF-8 without NUL
 * (the dispatcher refuses other query strings with 400). */
bool req_query_valid(struct req *r);
/* Query-string parameter by name, URL-decoded; NULL when absent. */
const char *req_query(struct req *r, const char *name);
/* Calls fn with each URL-decoded key and value, in order; stops at and
 * returns fn's first non-zero answer. */
int req_query_each(struct req *r, int (*fn)(struct req *r, const char *key,
    const char *value, void *ctx), void *ctx);

/* A list page from ?limit= (1..200, default 50) and ?cursor= (the id the
 * previous page ended at). Records a field error (limit) or ERR_BAD_REQUEST
 * (cursor) and returns -1 when either is malformed. */
struct page {
	int64_t limit, after;
};
int req_page(struct req *r, struct page *out);

void req_header(struct req *r, const char *name, const char *value);

/* Writes a JSON answer. Returns 0. */
int req_json(struct req *r, int status, const char *json);
int req_no_content(struct req *r);
/* A 200 answer written in pieces (CSV exports): the head now, the body by
 * req_stream_write, which flushes each piece and returns -1 once the client
 * is gone; without Content-Length, so nginx sends it chunked. */
void req_stream_begin(struct req *r, const char *content_type);
int req_stream_write(struct req *r, const char *data, size_t len);
/* Answers a stored status and body as they are (idempotent replays). */
int req_replay(struct req *r, int status, const char *body);
/* Writes r->err in the error shape. Returns 0 (the request is answered). */
int req_fail(struct req *r);
/* err_set on r->err, then req_fail. */
int req_fail_with(struct req *r, enum err_code code, const char *message);

/* Formats an integer in the arena (for SQL parameters). */
const char *req_i64(struct req *r, int64_t v);

#endif
