/* What a workspace configures (custom fields and the form layout, roles with
 * object rights and field security, pipelines, tags) and the calls that
 * span records: the customer's timeline, duplicates and merge, lead
 * conversion, global search, the recycle bin, member handover. Each route is
 * one call to its SQL function (sql/tenant/005_customer_360.sql,
 * 006_catalog.sql); app/core/call.h says where the arguments come from.
 * This module is listed before `records` so that its static paths
 * (/customers/duplicates) win over /customers/{id}. */
#include "app/core/call.h"
#include "app/core/module.h"

#define SQL_JSON(fn) "SELECT " fn "::text"

static struct call fields_list = CALL(SQL_JSON("fields_list($1)"), 1, "{object}", 200);
static struct call field_create = CALL(SQL_JSON("field_create($1, $2::jsonb)"), 2,
    "{object} body", 201);
static struct call field_update = CALL(SQL_JSON("field_update($1, $2, $3::jsonb)"), 3,
    "{object} {key} patch", 200);
static struct call field_delete = CALL(SQL_JSON("field_delete($1, $2)"), 2,
    "{object} {key}", 204);

static struct call roles_list = CALL(SQL_JSON("roles_list()"), 0, "", 200);
static struct call role_create = CALL(SQL_JSON("role_save(NULL, $1::jsonb, true)"), 1,
    "body", 201);
static struct call role_update = CALL(SQL_JSON("role_save($1, $2::jsonb, false)"), 2,
    "{key} patch", 200);

static struct call pipelines_list = CALL(SQL_JSON("pipelines_list()"), 0, "", 200);
static struct call pipeline_create = CALL(SQL_JSON("pipeline_save(NULL, $1::jsonb)"), 1,
    "body", 201);
static struct call pipeline_update = CALL(SQL_JSON("pipeline_save($1, $2::jsonb)"), 2,
    "{id} patch", 200);
static struct call pipeline_delete = CALL(SQL_JSON("pipeline_delete($1)"), 1, "{id}", 204);

static struct call tags_list = CALL(SQL_JSON("tags_list()"), 0, "", 200);
static struct call tag_create = CALL(SQL_JSON("tag_save(NULL, $1::jsonb)"), 1, "body", 201);
static struct call tag_update = CALL(SQL_JSON("tag_save($1, $2::jsonb)"), 2, "{id} patch", 200);
static struct call tag_delete = CALL(SQL_JSON("tag_delete($1)"), 1, "{id}", 204);

static struct call duplicates = CALL(SQL_JSON("customer_duplicates($1, $2, $3)"), 3,
    "q:name q:phone limit", 200);
static struct call timeline = CALL(SQL_JSON("customer_timeline($1, $2, $3)"), 3,
    "{id} limit cursor", 200);
static struct call merge = CALL(SQL_JSON("customer_merge($1, $2::jsonb)"), 2,
    "{id} body", 200);
static struct call convert = CALL(SQL_JSON("lead_convert($1, $2::jsonb)"), 2,
    "{id} body", 201);
static struct call search = CALL(SQL_JSON("search_all($1, 5)"), 1, "q:q", 200);
static struct call recycle_bin = CALL(SQL_JSON("recycle_bin($1, $2, $3)"), 3,
    "q:object limit cursor", 200);
static struct call handover = CALL(SQL_JSON("member_handover($1, $2::jsonb)"), 2,
    "{id} body", 200);

#define GET(path, perm, c) {"GET", path, call_handler, AUTH_TENANT, perm, 0, &c}
#define WRITE(method, path, perm, c) \
	{method, path, call_handler, AUTH_TENANT, perm, ROUTE_JSON_BODY, &c}
#define DELETE(path, perm, c) {"DELETE", path, call_handler, AUTH_TENANT, perm, 0, &c}

static const struct route routes[] = {
	GET("/api/v1/fields/{object}", NULL, fields_list),
	WRITE("POST", "/api/v1/fields/{object}", "settings.manage", field_create),
	WRITE("PATCH", "/api/v1/fields/{object}/{key}", "settings.manage", field_update),
	DELETE("/api/v1/fields/{object}/{key}", "settings.manage", field_delete),

	/* also for those who set roles or the claim limits per role */
	GET("/api/v1/roles", "members.read|roles.manage|settings.manage", roles_list),
	WRITE("POST", "/api/v1/roles", "roles.manage", role_create),
	WRITE("PATCH", "/api/v1/roles/{key}", "roles.manage", role_update),

	GET("/api/v1/pipelines", NULL, pipelines_list),
	WRITE("POST", "/api/v1/pipelines", "settings.manage", pipeline_create),
	WRITE("PATCH", "/api/v1/pipelines/{id}", "settings.manage", pipeline_update),
	DELETE("/api/v1/pipelines/{id}", "settings.manage", pipeline_delete),

	GET("/api/v1/tags", NULL, tags_list),
	WRITE("POST", "/api/v1/tags", "settings.manage", tag_create),
	WRITE("PATCH", "/api/v1/tags/{id}", "settings.manage", tag_update),
	DELETE("/api/v1/tags/{id}", "settings.manage", tag_delete),

	GET("/api/v1/customers/duplicates", "customers.read", duplicates),
	GET("/api/v1/customers/{id}/timeline", "customers.read", timeline),
	WRITE("POST", "/api/v1/customers/{id}/merge", "customers.update", merge),
	WRITE("POST", "/api/v1/leads/{id}/convert", "leads.update", convert),
	GET("/api/v1/search", NULL, search),
	GET("/api/v1/recycle_bin", NULL, recycle_bin),
	WRITE("POST", "/api/v1/members/{id}/handover", "members.manage", handover),
	{NULL, NULL, NULL, AUTH_NONE, NULL, 0, NULL},
};

const struct module catalog_module = {"catalog", routes};
