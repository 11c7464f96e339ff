/* The six record objects (customers, contacts, leads, opportunities,
 * activities, tasks) share one set of routes: list, create, get, PATCH,
 * delete, restore, history. Each is one call to the record engine in the
 * tenant schema (sql/tenant/004_record_engine.sql), which checks scope and
 * field security, validates, writes audit and outbox, and builds the answer;
 * the argument of each call comes from the request as app/core/call.h says. */
#include "app/core/call.h"
#include "app/core/module.h"
#include "app/modules/records/records.h"

static struct call list = CALL(
    "SELECT record_list($1, $2::jsonb)::text", 2, "object list", 200);
static struct call create = CALL(
    "SELECT record_create($1, $2::jsonb)::text", 2, "object body", 201);
static struct call get = CALL(
    "SELECT record_get($1, $2)::text", 2, "object {id}", 200);
static struct call update = CALL(
    "SELECT record_update($1, $2, $3, $4::jsonb)::text", 4,
    "object {id} version body", 200);
static struct call delete = CALL(
    "SELECT record_bin($1, $2, true)::text", 2, "object {id}", 204);
static struct call restore = CALL(
    "SELECT record_bin($1, $2, false)::text", 2, "object {id}", 200);
static struct call history = CALL(
    "SELECT record_history($1, $2, $3, $4)::text", 4,
    "object {id} limit q:cursor", 200);

/* The routes every record object answers; static paths come before {id}. */
#define RECORD_ROUTES(obj) \
	{"GET", "/api/v1/" obj, call_handler, AUTH_TENANT, obj ".read", 0, &list}, \
	{"POST", "/api/v1/" obj, call_handler, AUTH_TENANT, obj ".create", \
	    ROUTE_JSON_BODY, &create}, \
	{"GET", "/api/v1/" obj "/export", records_export, AUTH_TENANT, \
	    obj ".export", 0, NULL}, \
	{"GET", "/api/v1/" obj "/{id}", call_handler, AUTH_TENANT, obj ".read", 0, &get}, \
	{"PATCH", "/api/v1/" obj "/{id}", call_handler, AUTH_TENANT, \
	    obj ".update", ROUTE_JSON_BODY, &update}, \
	{"DELETE", "/api/v1/" obj "/{id}", call_handler, AUTH_TENANT, \
	    obj ".delete", 0, &delete}, \
	{"POST", "/api/v1/" obj "/{id}/restore", call_handler, AUTH_TENANT, \
	    obj ".delete", 0, &restore}, \
	{"GET", "/api/v1/" obj "/{id}/history", call_handler, AUTH_TENANT, \
	    obj ".read", 0, &history}

static const struct route routes[] = {
	RECORD_ROUTES("customers"),
	RECORD_ROUTES("contacts"),
	RECORD_ROUTES("leads"),
	RECORD_ROUTES("opportunities"),
	RECORD_ROUTES("activities"),
	RECORD_ROUTES("tasks"),
	{NULL, NULL, NULL, AUTH_NONE, NULL, 0, NULL},
};

const struct module records_module = {"records", routes};
