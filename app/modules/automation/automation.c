/* Automation as the API shows it: rules and their execution log, in-app
 * notifications, the public pool (list, claim, release), webhooks with
 * their delivery log, e-mail templates, nurture sequences with their
 * enrollments and the unsubscribe link, and the workspace settings they read (pool days, claim
 * limits, reminder minutes…). Each route is one call to its SQL function
 * (sql/tenant/008_automation.sql); crm-worker does the work itself
 * (app/crm-worker.c). Listed before `records`, so /customers/pool is not
 * taken for a customer id. */
#include "app/core/call.h"
#include "app/core/db.h"
#include "app/core/json.h"
#include "app/core/module.h"

#define SQL_JSON(fn) "SELECT " fn "::text"

static struct call rules_list = CALL(SQL_JSON("rules_list()"), 0, "", 200);
static struct call rule_get = CALL(SQL_JSON("rule_get($1)"), 1, "{id}", 200);
static struct call rule_create = CALL(SQL_JSON("rule_save(NULL, $1::jsonb)"), 1, "body", 201);
static struct call rule_update = CALL(SQL_JSON("rule_save($1, $2::jsonb)"), 2, "{id} patch", 200);
static struct call rule_delete = CALL(SQL_JSON("catalog_remove('rules', $1)"), 1, "{id}", 204);
static struct call rule_runs = CALL(SQL_JSON("rule_runs_list($1, $2, $3)"), 3,
    "{id} limit cursor", 200);

static struct call notifications = CALL(SQL_JSON("notifications_list($1, $2, $3)"), 3,
    "limit cursor q:unread", 200);
static struct call unread = CALL(SQL_JSON("notifications_unread()"), 0, "", 200);
static struct call read_one = CALL(SQL_JSON("notifications_read($1)"), 1, "{id}", 200);
static struct call read_all = CALL(SQL_JSON("notifications_read(NULL)"), 0, "", 200);

static struct call pool = CALL(SQL_JSON("pool_list($1, $2, $3)"), 3, "limit cursor q:q", 200);
static struct call claim = CALL(SQL_JSON("customer_claim($1)"), 1, "{id}", 200);
static struct call release = CALL(SQL_JSON("customer_release($1)"), 1, "{id}", 200);

static struct call webhooks_list = CALL(SQL_JSON("webhooks_list()"), 0, "", 200);
static struct call webhook_create = CALL(SQL_JSON("webhook_save(NULL, $1::jsonb)"), 1, "body", 201);
static struct call webhook_update = CALL(SQL_JSON("webhook_save($1, $2::jsonb)"), 2,
    "{id} patch", 200);
static struct call webhook_delete = CALL(SQL_JSON("catalog_remove('webhooks', $1)"), 1, "{id}", 204);
static struct call deliveries = CALL(SQL_JSON("webhook_deliveries($1, $2, $3)"), 3,
    "{id} limit cursor", 200);

static struct call templates_list = CALL(SQL_JSON("email_templates_list()"), 0, "", 200);
static struct call template_get = CALL(SQL_JSON("catalog_row('email_templates', $1)"), 1, "{id}", 200);
static struct call template_create = CALL(SQL_JSON("email_template_save(NULL, $1::jsonb)"), 1,
    "body", 201);
static struct call template_update = CALL(SQL_JSON("email_template_save($1, $2::jsonb)"), 2,
    "{id} patch", 200);
static struct call template_delete = CALL(SQL_JSON("email_template_delete($1)"), 1, "{id}", 204);

static struct call sequences_list = CALL(SQL_JSON("sequences_list()"), 0, "", 200);
static struct call sequence_get = CALL(SQL_JSON("sequence_get($1)"), 1, "{id}", 200);
static struct call sequence_create = CALL(SQL_JSON("sequence_save(NULL, $1::jsonb)"), 1,
    "body", 201);
static struct call sequence_update = CALL(SQL_JSON("sequence_save($1, $2::jsonb)"), 2,
    "{id} patch", 200);
static struct call sequence_delete = CALL(SQL_JSON("catalog_remove('sequences', $1)"), 1, "{id}", 204);
static struct call enroll = CALL(SQL_JSON("sequence_enroll($1, $2::jsonb)"), 2,
    "{id} body", 201);
static struct call enrollments = CALL(SQL_JSON("sequence_enrollments($1, $2, $3)"), 3,
    "{id} limit cursor", 200);
static struct call enrollment_stop = CALL(SQL_JSON("enrollment_stop($1)"), 1, "{id}", 200);

static struct call settings_get = CALL(SQL_JSON("settings_get()"), 0, "", 200);
static struct call settings_update = CALL(SQL_JSON("settings_update($1::jsonb)"), 1, "body", 200);

static struct db_stmt stmt_unsubscribe = DB_STMT(SQL_JSON("sequence_unsubscribe($1, $2)"), 2);

/* POST /api/v1/unsubscribe {t, e, s}: the link in a sequence's e-mail
 * (no login). The tenant comes from the link; the SQL checks the signature
 * and answers 404 for a wrong one. */
static int
unsubscribe(struct req *r)
{
	int64_t tenant = 0, enrollment = 0;
	bool given, is_null;

	json_get_id(r, r->json, "t", &tenant, &given, &is_null);
	json_get_id(r, r->json, "e", &enrollment, &given, &is_null);
	const char *sig = json_get_str(r, r->json, "s", JSON_REQUIRED, 64, 64);
	if (json_invalid(r) || tenant <= 0 || enrollment <= 0)
		return req_fail_with(r, ERR_NOT_FOUND, NULL);
	db_begin(r, tenant);
	const char *answer = DB_VALUE(r, &stmt_unsubscribe, DB_COMMIT,
	    req_i64(r, enrollment), sig);
	/* an unknown or suspended workspace is no different from a bad link */
	if (answer == NULL && (r->err.code == ERR_TENANT_SUSPENDED ||
	    r->err.code == ERR_UNAUTHORIZED))
		return req_fail_with(r, ERR_NOT_FOUND, NULL);
	return answer == NULL ? req_fail(r) : req_json(r, 200, answer);
}

#define GET(path, perm, c) {"GET", path, call_handler, AUTH_TENANT, perm, 0, &c}
#define POST(path, perm, c) {"POST", path, call_handler, AUTH_TENANT, perm, 0, &c}
#define WRITE(method, path, perm, c) \
	{method, path, call_handler, AUTH_TENANT, perm, ROUTE_JSON_BODY, &c}
#define DELETE(path, perm, c) {"DELETE", path, call_handler, AUTH_TENANT, perm, 0, &c}

static const struct route routes[] = {
	GET("/api/v1/rules", "settings.manage", rules_list),
	WRITE("POST", "/api/v1/rules", "settings.manage", rule_create),
	GET("/api/v1/rules/{id}", "settings.manage", rule_get),
	WRITE("PATCH", "/api/v1/rules/{id}", "settings.manage", rule_update),
	DELETE("/api/v1/rules/{id}", "settings.manage", rule_delete),
	GET("/api/v1/rules/{id}/runs", "settings.manage", rule_runs),

	GET("/api/v1/notifications", NULL, notifications),
	GET("/api/v1/notifications/unread_count", NULL, unread),
	POST("/api/v1/notifications/{id}/read", NULL, read_one),
	POST("/api/v1/notifications/read_all", NULL, read_all),

	GET("/api/v1/customers/pool", "customers.read", pool),
	POST("/api/v1/customers/{id}/claim", "customers.read", claim),
	POST("/api/v1/customers/{id}/release", "customers.update", release),

	GET("/api/v1/webhooks", "settings.manage", webhooks_list),
	WRITE("POST", "/api/v1/webhooks", "settings.manage", webhook_create),
	WRITE("PATCH", "/api/v1/webhooks/{id}", "settings.manage", webhook_update),
	DELETE("/api/v1/webhooks/{id}", "settings.manage", webhook_delete),
	GET("/api/v1/webhooks/{id}/deliveries", "settings.manage", deliveries),

	GET("/api/v1/email_templates", "leads.read", templates_list),
	WRITE("POST", "/api/v1/email_templates", "settings.manage", template_create),
	GET("/api/v1/email_templates/{id}", "leads.read", template_get),
	WRITE("PATCH", "/api/v1/email_templates/{id}", "settings.manage", template_update),
	DELETE("/api/v1/email_templates/{id}", "settings.manage", template_delete),

	GET("/api/v1/sequences", "leads.read", sequences_list),
	WRITE("POST", "/api/v1/sequences", "settings.manage", sequence_create),
	GET("/api/v1/sequences/{id}", "leads.read", sequence_get),
	WRITE("PATCH", "/api/v1/sequences/{id}", "settings.manage", sequence_update),
	DELETE("/api/v1/sequences/{id}", "settings.manage", sequence_delete),
	GET("/api/v1/sequences/{id}/enrollments", "leads.read", enrollments),
	WRITE("POST", "/api/v1/sequences/{id}/enrollments", "leads.update", enroll),
	POST("/api/v1/enrollments/{id}/stop", "leads.update", enrollment_stop),

	GET("/api/v1/settings", NULL, settings_get),
	WRITE("PATCH", "/api/v1/settings", "settings.manage", settings_update),
	{"POST", "/api/v1/unsubscribe", unsubscribe, AUTH_NONE, NULL, ROUTE_JSON_BODY, NULL},
	{NULL, NULL, NULL, AUTH_NONE, NULL, 0, NULL},
};

const struct module automation_module = {"automation", routes};
