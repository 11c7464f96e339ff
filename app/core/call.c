/* Routes answered by one SQL function call; see call.h. */
#include "call.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "module.h"

#define ARG_MAX 16
#define NAME_MAX_LEN 64
#define QUERY_VALUE_MAX 200
#define CURSOR_MAX 1024
#define FILTER_VALUE_MAX 1000
#define FILTERS_MAX 20

static const char *const record_objects[] = {"customers", "contacts", "leads",
    "opportunities", "activities", "tasks", NULL};

const char *
call_object(struct req *r)
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
	static const char malformed[] = "A filter parameter is malformed.";
	cJSON *filters = ctx;
	const char *op = "eq";

	if (strncmp(key, "filter[", 7) != 0)
		return 0;
	key += 7;
	size_t field_len = strcspn(key, "]");
	const char *rest = key + field_len;
	if (field_len == 0 || field_len > NAME_MAX_LEN || *rest != ']')
		return err_set(&r->err, ERR_BAD_REQUEST, malformed);
	if (rest[1] == '[') {
		size_t op_len = strcspn(rest + 2, "]");
		if (op_len == 0 || op_len > 16 || strcmp(rest + 2 + op_len, "]") != 0)
			return err_set(&r->err, ERR_BAD_REQUEST, malformed);
		op = arena_strndup(r->arena, rest + 2, op_len);
	} else if (rest[1] != '\0') {
		return err_set(&r->err, ERR_BAD_REQUEST, malformed);
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

/* A query parameter of at most max bytes, or NULL; records too_long. */
static const char *
query_within(struct req *r, const char *name, size_t max)
{
	const char *v = req_query(r, name);

	if (v != NULL && strlen(v) > max) {
		err_field(&r->err, name, "too_long");
		r->err.code = ERR_BAD_REQUEST;	/* as every other bad list parameter */
		return NULL;
	}
	return v;
}

/* ?limit= within 1..max, 50 when absent; records invalid_value. */
static long
limit_param(struct req *r, int max)
{
	const char *limit = req_query(r, "limit");
	long n = limit != NULL ? strtol(limit, NULL, 10) : 50;

	if (limit != NULL && (strspn(limit, "0123456789") != strlen(limit) ||
	    strlen(limit) > 4 || n < 1 || n > max))
		err_field(&r->err, "limit", "invalid_value");
	return n;
}

int
call_list_params(struct req *r, int limit_max, const char **out)
{
	cJSON *p = json_new_object(r->arena);
	cJSON *filters = cJSON_AddArrayToObject(p, "filters");
	static const char *const strings[] = {"cursor", "sort", "q", NULL};
	static const size_t max[] = {CURSOR_MAX, NAME_MAX_LEN, QUERY_VALUE_MAX};

	cJSON_AddNumberToObject(p, "limit", (double)limit_param(r, limit_max));
	for (int i = 0; strings[i] != NULL; i++) {
		const char *v = query_within(r, strings[i], max[i]);
		if (v != NULL)
			cJSON_AddStringToObject(p, strings[i], v);
	}
	if (r->err.code != ERR_NONE || req_query_each(r, add_filter, filters) != 0)
		return -1;
	*out = json_print(r->arena, p);
	return 0;
}

/* The version If-Match names (3, "3" or W/"3"), or NULL without the header;
 * a malformed one is a 400. */
static const char *
if_match_version(struct req *r)
{
	const char *h = r->if_match;

	if (h == NULL)
		return NULL;
	if (strncmp(h, "W/", 2) == 0)
		h += 2;
	size_t len = strlen(h);
	if (len >= 2 && h[0] == '"' && h[len - 1] == '"')
		h = arena_strndup(r->arena, h + 1, len - 2);
	if (*h == '\0' || strlen(h) > 9 || strspn(h, "0123456789") != strlen(h)) {
		err_set(&r->err, ERR_BAD_REQUEST, "If-Match must be the record's version.");
		return NULL;
	}
	return h;
}

/* The version a PATCH is made against: If-Match, else "version" in the body. */
static const char *
version_arg(struct req *r)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, "version");
	const char *h = if_match_version(r);

	if (h != NULL || r->err.code != ERR_NONE)
		return h;
	if (v == NULL)
		err_field(&r->err, "version", "required");
	else if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e9 ||
	    v->valuedouble != (double)(int)v->valuedouble)
		err_field(&r->err, "version", "invalid_type");
	else
		return req_i64(r, (int64_t)v->valuedouble);
	return NULL;
}

/* The body of a catalog PATCH, whose function reads the version from the
 * body: If-Match, when given, becomes its "version". */
static const char *
patch_arg(struct req *r)
{
	const char *h = if_match_version(r);

	if (h != NULL && cJSON_IsObject(r->json)) {
		cJSON_DeleteItemFromObjectCaseSensitive(r->json, "version");
		cJSON_AddNumberToObject(r->json, "version", atof(h));
	}
	return r->json != NULL ? json_print(r->arena, r->json) : "{}";
}

/* A path parameter that names one of the record objects. */
static const char *
object_param(struct req *r)
{
	const char *name = req_param(r, "object");

	for (int i = 0; name != NULL && record_objects[i] != NULL; i++)
		if (strcmp(name, record_objects[i]) == 0)
			return name;
	err_set(&r->err, ERR_NOT_FOUND, NULL);
	return NULL;
}

/* The value of one argument; NULL is SQL NULL unless r->err is set. */
static const char *
arg_value(struct req *r, const char *name, size_t len)
{
	int64_t id;

#define IS(s) (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)
	if (IS("object"))
		return call_object(r);
	if (IS("{object}"))
		return object_param(r);
	if (IS("{id}"))
		return req_param_id_or_fail(r, "id", &id) == 0 ? req_i64(r, id) : NULL;
	if (IS("{key}")) {
		const char *key = req_param(r, "key");
		if (key == NULL || strlen(key) > NAME_MAX_LEN)
			err_set(&r->err, ERR_NOT_FOUND, NULL);
		return key;
	}
	if (IS("body"))
		return r->json != NULL ? json_print(r->arena, r->json) : "{}";
	if (IS("list")) {
		const char *params = NULL;
		call_list_params(r, 200, &params);
		return params;
	}
	if (IS("version"))
		return version_arg(r);
	if (IS("patch"))
		return patch_arg(r);
	if (IS("limit"))
		return req_i64(r, limit_param(r, 200));
	if (IS("cursor"))
		return query_within(r, "cursor", CURSOR_MAX);
	if (len > 2 && memcmp(name, "q:", 2) == 0)
		return query_within(r, arena_strndup(r->arena, name + 2, len - 2),
		    QUERY_VALUE_MAX);
#undef IS
	err_set(&r->err, ERR_INTERNAL, "unknown call argument");
	return NULL;
}

int
call_handler(struct req *r)
{
	struct call *c = r->route->call;
	const char *args[ARG_MAX] = {0};
	int n = 0;

	for (const char *p = c->args; *p != '\0' && n < ARG_MAX; n++) {
		size_t len = strcspn(p, " ");
		args[n] = arg_value(r, p, len);
		p += len + strspn(p + len, " ");
	}
	if (r->err.code != ERR_NONE)
		return req_fail(r);
	const char *json = db_value(r, &c->stmt, DB_COMMIT, args);
	if (json == NULL)
		return req_fail(r);
	return c->status == 204 ? req_no_content(r) : req_json(r, c->status, json);
}
