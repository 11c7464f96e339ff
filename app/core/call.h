/* Routes answered by one call to a SQL function, described as data: the
 * statement, where each argument comes from, and the success status. Most
 * record and catalog routes are such calls: the function in the tenant
 * schema checks, writes and builds the JSON answer, so the handler has
 * nothing to do but gather arguments (sql/tenant/004_record_engine.sql).
 *
 * args names the SQL arguments in order, separated by spaces:
 *   object     the path segment after /api/v1/ ("customers"…)
 *   {object}   the path parameter "object", one of the record objects (404 else)
 *   {id}       the path parameter "id", a positive integer (404 else)
 *   {key}      the path parameter "key", at most 64 bytes (404 else)
 *   body       the JSON body as text ("{}" without one)
 *   list       the list query (limit, cursor, sort, q, filter[…]) as JSON
 *   version    If-Match, else "version" in the body (required)
 *   patch      the body, with If-Match (when given) as its "version"
 *   limit      ?limit= (1..200, default 50)
 *   cursor     ?cursor= as it is (opaque), or NULL
 *   q:NAME     the query parameter NAME (at most 200 bytes), or NULL */
#ifndef CRM_CALL_H
#define CRM_CALL_H

#include "db.h"

struct call {
	struct db_stmt stmt;
	const char *args;
	int status;	/* 200, 201 or 204 (answered without the result) */
};

#define CALL(sql, nargs, argnames, code) \
	{.stmt = DB_STMT(sql, nargs), .args = (argnames), .status = (code)}

/* The handler of every route whose `call` is set. */
int call_handler(struct req *r);

/* The list query of the request as the JSON record_list takes, with limit
 * up to limit_max. Records the error and returns -1 on a malformed or
 * oversized parameter. */
int call_list_params(struct req *r, int limit_max, const char **out);

/* The object a record route serves: the path segment after /api/v1/. */
const char *call_object(struct req *r);

#endif
