/* Health, version and the OpenAPI document: calls without identity. */
#include <stdio.h>

#include "app/core/config.h"
#include "app/core/db.h"
#include "app/core/module.h"
#include "app/core/redis.h"
#include "app/core/req.h"
#include "tenants/embedded.h"

/* GET /api/v1/health: 200 when PostgreSQL and Redis answer, else 503. */
static int
system_health(struct req *r)
{
	bool db_ok = db_ping() == 0, redis_ok = redis_ping() == 0;
	const char *json = arena_printf(r->arena,
	    "{\"status\":\"%s\",\"db\":\"%s\",\"redis\":\"%s\",\"version\":\"%s\"}",
	    db_ok && redis_ok ? "ok" : "degraded", db_ok ? "ok" : "down",
	    redis_ok ? "ok" : "down", config.version);

	return req_json(r, db_ok && redis_ok ? 200 : 503, json);
}

/* GET /api/v1/version: touches neither database nor Redis (the benchmark's
 * FastCGI floor). */
static int
system_version(struct req *r)
{
	return req_json(r, 200, arena_printf(r->arena, "{\"version\":\"%s\"}",
	    config.version));
}

/* GET /api/v1/openapi.json */
static int
system_openapi(struct req *r)
{
	return req_json(r, 200, openapi_json);
}

static const struct route routes[] = {
	{"GET", "/api/v1/health", system_health, AUTH_NONE, NULL, 0, NULL},
	{"GET", "/api/v1/version", system_version, AUTH_NONE, NULL, 0, NULL},
	{"GET", "/api/v1/openapi.json", system_openapi, AUTH_NONE, NULL, 0, NULL},
	{NULL, NULL, NULL, AUTH_NONE, NULL, 0, NULL},
};

const struct module system_module = {"system", routes};
