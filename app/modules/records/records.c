/* The six record objects (customers, contacts, leads, opportunities,
 * activities, tasks) share one set of handlers: list, create, get, PATCH,
 * delete, restore, history. Each handler parses the request and makes one
 * call to the record engine in the tenant schema
 * (sql/tenant/004_record_engine.sql), which checks scope and field security,
 * validates, writes audit and outbox, and builds the answer. */
#include <stdlib.h>
#include <string.h>

#include "app/core/db.h"
#include "app/core/json.h"
#include "app/core/module.h"
#include "app/modules/records/records.h"

#define SORT_MAX 64
#define Q_MAX 100
#define CURSOR_MAX 1024
#define FILTER_VALUE_MAX 1000
#define FILTERS_MAX 20

static struct db_stmt stmt_list = DB_STMT(
    "SELECT record_list($1, $2::jsonb)::text", 2);
static struct db_stmt stmt_create = DB_STMT(
    "SELECT record_create($1, $2::jsonb)::text", 2);
static struct db_stmt stmt_get = DB_STMT(
    "SELECT record_get($1, $2)::text", 2);
static struct db_stmt stmt_update = DB_STMT(
    "SELECT record_update($1, $2, $3, $4::jsonb)::text", 4);
static struct db_stmt stmt_bin = DB_STMT(
    "SELECT record_bin($1, $2, $3)::text", 3);
static struct db_stmt stmt_history = DB_STMT(
    "SELECT record_history($1, $2, $3, $4)::text", 4);

const char *
records_object(struct req *r)
{
	static const char prefix[] = "/api/v1/";
	const char *name = r->route->path + sizeof(prefix) - 1;

	return arena_strndup(r->arena, name, strcspn(name, "/"));
}

/* One "filter[field]" or "filter[field][op]" query parameter, appended to
 * the filters array as [field, op, value]. */
static int
add_filter(struct req *r, const char *key, const char *value, void *ctx)
{
	cJSON *filters = ctx;
	size_t field_len;

	if (strncmp(key, "filter[", 7) != 0)
		return 0;
	key += 7;
	field_len = strcspn(key, "]");
	const char *rest = key + field_len;
	const char *op = "eq";
	if (field_len == 0 || field_len > SORT_MAX || *rest != ']')
		return err_set(&r->err, ERR_BAD_REQUEST, "A filter parameter is malformed.");
	if (rest[1] == '[') {
		size_t op_len = strcspn(rest + 2, "]");
		if (op_len == 0 || op_len > 16 || strcmp(rest + 2 + op_len, "]") != 0)
			return err_set(&r->err, ERR_BAD_REQUEST, "A filter parameter is malformed.");
		op = arena_strndup(r->arena, rest + 2, op_len);
	} else if (rest[1] != '\0') {
		return err_set(&r->err, ERR_BAD_REQUEST, "A filter parameter is malformed.");
	}
	if (strlen(value) > FILTER_VALUE_MAX)
		return err_field(&r->err, arena_printf(r->arena, "filter[%.*s]",
		    (int)field_len, key), "too_long");
	if (cJSON_GetArraySize(filters) == FILTERS_MAX)
		return err_set(&r->err, ERR_BAD_REQUEST, "Too many filters.");
	cJSON *f = cJSON_CreateArray();
	cJSON_AddItemToArray(f, cJSON_CreateString(arena_strndup(r->arena, key, field_len)));
	cJSON_AddItemToArray(f, cJSON_CreateString(op));
	cJSON_AddItemToArray(f, cJSON_CreateString(value));
	cJSON_AddItemToArray(filters, f);
	return 0;
}

/* A string query parameter within max bytes, added to p when present. */
static void
add_query_string(struct req *r, cJSON *p, const char *name, size_t max)
{
	const char *v = req_query(r, name);

	if (v == NULL)
		return;
	if (strlen(v) > max)
		err_field(&r->err, name, "too_long");
	else
		cJSON_AddStringToObject(p, name, v);
}

int
records_list_params(struct req *r, int limit_max, const char **out)
{
	cJSON *p = json_new_object(r->arena);
	cJSON *filters = cJSON_AddArrayToObject(p, "filters");
	const char *limit = req_query(r, "limit");
	long n = limit != NULL ? strtol(limit, NULL, 10) : 50;

	/* req_page reads the cursor as an id; ours are opaque strings */
	if (limit != NULL && (strspn(limit, "0123456789") != strlen(limit) ||
	    strlen(limit) > 4 || n < 1 || n > limit_max))
		err_field(&r->err, "limit", "invalid_value");
	cJSON_AddNumberToObject(p, "limit", (double)n);
	add_query_string(r, p, "cursor", CURSOR_MAX);
	add_query_string(r, p, "sort", SORT_MAX);
	add_query_string(r, p, "q", Q_MAX);
	if (r->err.code != ERR_NONE || req_query_each(r, add_filter, filters) != 0)
		return -1;
	*out = json_print(r->arena, p);
	return 0;
}

/* GET /api/v1/<object> */
static int
records_list(struct req *r)
{
	const char *params;

	if (records_list_params(r, 200, &params) != 0)
		return req_fail(r);
	const char *json = DB_VALUE(r, &stmt_list, DB_COMMIT, records_object(r), params);
	return json != NULL ? req_json(r, 200, json) : req_fail(r);
}

/* POST /api/v1/<object> */
static int
records_create(struct req *r)
{
	const char *json = DB_VALUE(r, &stmt_create, DB_COMMIT, records_object(r),
	    json_print(r->arena, r->json));
	return json != NULL ? req_json(r, 201, json) : req_fail(r);
}

/* GET /api/v1/<object>/{id} */
static int
records_get(struct req *r)
{
	int64_t id;

	if (req_param_id_or_fail(r, "id", &id) != 0)
		return req_fail(r);
	const char *json = DB_VALUE(r, &stmt_get, DB_COMMIT, records_object(r),
	    req_i64(r, id));
	return json != NULL ? req_json(r, 200, json) : req_fail(r);
}

int
records_version_or_fail(struct req *r, int64_t *version)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, "version");
	const char *h = r->if_match;

	if (h != NULL) {
		/* If-Match: 3, "3" or W/"3" */
		if (strncmp(h, "W/", 2) == 0)
			h += 2;
		size_t len = strlen(h);
		if (len >= 2 && h[0] == '"' && h[len - 1] == '"')
			h = arena_strndup(r->arena, h + 1, len - 2);
		if (strspn(h, "0123456789") != strlen(h) || strlen(h) == 0 || strlen(h) > 9)
			return err_set(&r->err, ERR_BAD_REQUEST, "If-Match must be the record's version.");
		*version = strtol(h, NULL, 10);
		return 0;
	}
	if (v == NULL)
		return err_field(&r->err, "version", "required");
	if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble ||
	    v->valuedouble < 1)
		return err_field(&r->err, "version", "invalid_type");
	*version = (int64_t)v->valuedouble;
	return 0;
}

/* PATCH /api/v1/<object>/{id} */
static int
records_update(struct req *r)
{
	int64_t id, version;

	if (req_param_id_or_fail(r, "id", &id) != 0 ||
	    records_version_or_fail(r, &version) != 0)
		return req_fail(r);
	const char *json = DB_VALUE(r, &stmt_update, DB_COMMIT, records_object(r),
	    req_i64(r, id), req_i64(r, version), json_print(r->arena, r->json));
	return json != NULL ? req_json(r, 200, json) : req_fail(r);
}

/* Moves a record into (DELETE) or out of (POST …/restore) the recycle bin. */
static int
bin(struct req *r, bool deleting)
{
	int64_t id;

	if (req_param_id_or_fail(r, "id", &id) != 0)
		return req_fail(r);
	const char *json = DB_VALUE(r, &stmt_bin, DB_COMMIT, records_object(r),
	    req_i64(r, id), deleting ? "true" : "false");
	if (json == NULL)
		return req_fail(r);
	return deleting ? req_no_content(r) : req_json(r, 200, json);
}

/* DELETE /api/v1/<object>/{id} */
static int
records_delete(struct req *r)
{
	return bin(r, true);
}

/* POST /api/v1/<object>/{id}/restore */
static int
records_restore(struct req *r)
{
	return bin(r, false);
}

/* GET /api/v1/<object>/{id}/history?limit=&cursor= */
static int
records_history(struct req *r)
{
	struct page page;
	int64_t id;

	if (req_param_id_or_fail(r, "id", &id) != 0 || req_page(r, &page) != 0)
		return req_fail(r);
	const char *json = DB_VALUE(r, &stmt_history, DB_COMMIT, records_object(r),
	    req_i64(r, id), req_i64(r, page.limit),
	    page.after > 0 ? req_i64(r, page.after) : NULL);
	return json != NULL ? req_json(r, 200, json) : req_fail(r);
}

/* The routes every record object answers; static paths come before {id}. */
#define RECORD_ROUTES(obj) \
	{"GET", "/api/v1/" obj, records_list, AUTH_TENANT, obj ".read", 0}, \
	{"POST", "/api/v1/" obj, records_create, AUTH_TENANT, obj ".create", \
	    ROUTE_JSON_BODY}, \
	{"GET", "/api/v1/" obj "/{id}", records_get, AUTH_TENANT, obj ".read", 0}, \
	{"PATCH", "/api/v1/" obj "/{id}", records_update, AUTH_TENANT, \
	    obj ".update", ROUTE_JSON_BODY}, \
	{"DELETE", "/api/v1/" obj "/{id}", records_delete, AUTH_TENANT, \
	    obj ".delete", 0}, \
	{"POST", "/api/v1/" obj "/{id}/restore", records_restore, AUTH_TENANT, \
	    obj ".delete", 0}, \
	{"GET", "/api/v1/" obj "/{id}/history", records_history, AUTH_TENANT, \
	    obj ".read", 0}

static const struct route routes[] = {
	RECORD_ROUTES("customers"),
	RECORD_ROUTES("contacts"),
	RECORD_ROUTES("leads"),
	RECORD_ROUTES("opportunities"),
	RECORD_ROUTES("activities"),
	RECORD_ROUTES("tasks"),
	{NULL, NULL, NULL, AUTH_NONE, NULL, 0},
};

const struct module records_module = {"records", routes};
