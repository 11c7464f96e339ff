/* PostgreSQL access; see db.h for the contract. */
#include "db.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "json.h"
#include "log.h"
#include "module.h"

#define BATCH_MAX 12

int db_tenant_schema_version;

static PGconn *conn;
static unsigned conn_generation;	/* bumped on each new connection */
static const char *conninfo = "dbname=crm";
static int statement_count;

static struct db_stmt stmt_begin = DB_STMT("BEGIN", 0);
static struct db_stmt stmt_commit = DB_STMT("COMMIT", 0);
static struct db_stmt stmt_rollback = DB_STMT("ROLLBACK", 0);
/* Enters tenant $1's context for the rest of the transaction: refuses when
 * it does not exist, is not active (when $3) or its schema is older than $2;
 * else SET LOCAL ROLE crm_t_<id> and search_path t_<id>, and keeps the
 * tenant's id, slug and name readable as the settings crm.tenant_*, and the
 * caller's user id ($4) and role ($5) as crm.user_id and crm.role (the
 * record engine's scope and field security read them).
 * It runs on every request, so it is one prepared statement, no function. */
#define ENTER_TENANT_SQL \
    "SELECT CASE " \
    " WHEN t.id IS NULL THEN public.crm_refuse('CRM04', 'no such tenant') " \
    " WHEN $3 AND t.status <> 'active' THEN public.crm_refuse('CRM01', 'tenant is ' || t.status) " \
    " WHEN t.schema_version < $2 THEN public.crm_refuse('CRM02', 'tenant schema is behind') " \
    " ELSE set_config('role', 'crm_t_' || t.id, true) " \
    "  || set_config('search_path', 't_' || t.id, true) " \
    "  || set_config('crm.tenant_id', t.id::text, true) " \
    "  || set_config('crm.tenant_slug', t.slug, true) " \
    "  || set_config('crm.tenant_name', t.name, true) " \
    "  || set_config('crm.user_id', coalesce($4, ''), true) " \
    "  || set_config('crm.role', coalesce($5, ''), true) END " \
    "FROM (SELECT $1::bigint AS id) x LEFT JOIN public.tenants t ON t.id = x.id"
static struct db_stmt stmt_enter = DB_STMT(ENTER_TENANT_SQL, 5);
static struct db_stmt stmt_leave = DB_STMT(
    "SELECT set_config('role', 'none', true), "
    "set_config('search_path', 'public', true)", 0);
static struct db_stmt stmt_require =
    DB_STMT("SELECT require_permission($1, $2)", 2);
static struct db_stmt stmt_ping = DB_STMT("SELECT 1", 0);

/* One message of a pipelined batch: prepare a statement, or run it. */
struct op {
	struct db_stmt *st;
	const char *const *params;
	bool prepare;
	bool keep;	/* the caller wants this result */
};

struct batch {
	struct op ops[BATCH_MAX];
	int n;
};

void
db_set_conninfo(const char *s)
{
	conninfo = s;
	db_disconnect();
}

void
db_disconnect(void)
{
	if (conn != NULL)
		PQfinish(conn);
	conn = NULL;
}

static bool listening;	/* this connection is LISTENing (crm-worker) */

/* Reads what arrived on an idle connection and drops its notifications;
 * true when one was there. */
static bool
drain_notifications(void)
{
	bool any = false;
	PGnotify *n;

	PQconsumeInput(conn);
	while ((n = PQnotifies(conn)) != NULL) {
		any = true;
		PQfreemem(n);
	}
	return any;
}

/* An idle connection receives nothing but notifications (when LISTENing):
 * otherwise readable means the server is terminating it or has closed it. */
static bool
connection_lost(void)
{
	struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN};

	if (PQstatus(conn) != CONNECTION_OK)
		return true;
	if (poll(&p, 1, 0) == 0)
		return false;
	if (!listening)
		return true;
	drain_notifications();
	return PQstatus(conn) != CONNECTION_OK;
}

static int
connect_now(struct err *e)
{
	static const char *const keys[] = {"connect_timeout", "application_name",
	    "dbname", NULL};
	const char *values[] = {"3", "crm", conninfo, NULL};

	db_disconnect();
	conn = PQconnectdbParams(keys, values, 1);
	if (PQstatus(conn) != CONNECTION_OK) {
		log_warn("database connection failed: %s", PQerrorMessage(conn));
		db_disconnect();
		return err_set(e, ERR_DB_UNAVAILABLE, NULL);
	}
	conn_generation++;
	listening = false;
	return 0;
}

static int
ensure_connection(struct err *e)
{
	static int64_t last_used;
	int64_t now = clock_ms();
	bool idle = now - last_used > CONNECTION_PROBE_AFTER_MS;

	last_used = now;
	if (conn != NULL && (!idle || !connection_lost()))
		return 0;
	return connect_now(e);
}

static void
add_op(struct batch *b, struct db_stmt *st, const char *const *params, bool keep)
{
	if (st->prepared_on != conn_generation)
		b->ops[b->n++] = (struct op){.st = st, .prepare = true};
	b->ops[b->n++] = (struct op){.st = st, .params = params, .keep = keep};
}

static void
add_preamble(struct req *r, struct batch *b, bool explicit_tx)
{
	if (explicit_tx)
		add_op(b, &stmt_begin, NULL, false);
	if (r->tx_tenant <= 0)
		return;
	const char **enter = arena_alloc(r->arena, 5 * sizeof(*enter));
	enter[0] = req_i64(r, r->tx_tenant);
	enter[1] = req_i64(r, db_tenant_schema_version);
	enter[2] = "true";
	enter[3] = r->id.user_id > 0 ? req_i64(r, r->id.user_id) : NULL;
	enter[4] = r->id.role;
	add_op(b, &stmt_enter, enter, false);
	if (r->route != NULL && r->route->permission != NULL) {
		const char **req = arena_alloc(r->arena, 2 * sizeof(*req));
		req[0] = r->id.role != NULL ? r->id.role : "";
		req[1] = r->route->permission;
		add_op(b, &stmt_require, req, false);
	}
}

static int
send_op(struct op *o)
{
	char name[16];

	if (o->st->id == 0)
		o->st->id = ++statement_count;
	snprintf(name, sizeof(name), "s%d", o->st->id);
	if (o->prepare)
		return PQsendPrepare(conn, name, o->st->sql, o->st->nparams, NULL);
	return PQsendQueryPrepared(conn, name, o->st->nparams, o->params, NULL,
	    NULL, 0);
}

static bool
sqlstate_is(const char *state, const char *prefix)
{
	return state != NULL && strncmp(state, prefix, strlen(prefix)) == 0;
}

/* The DETAIL of a record-engine error, {"name": "reason"…}, as field
 * reasons of r->err (the code is set by the caller afterwards). */
static void
detail_fields(struct req *r, const char *detail)
{
	struct err ignored = {0};
	cJSON *obj = detail != NULL && *detail == '{' ?
	    json_parse_object(r->arena, &ignored, detail, strlen(detail)) : NULL;
	const cJSON *item;

	cJSON_ArrayForEach(item, obj)
		if (cJSON_IsString(item))
			err_field(&r->err, arena_strdup(r->arena, item->string),
			    arena_strdup(r->arena, item->valuestring));
}

/* Our SQLSTATEs raised by the record engine (sql/tenant/004_record_engine.sql). */
static void
fail_from_engine(struct req *r, const char *state, const char *primary,
    const char *detail)
{
	static const struct {
		const char *state;
		enum err_code code;
		bool fields;
	} engine[] = {
		{"CRM10", ERR_VALIDATION_FAILED, true},
		{"CRM11", ERR_VERSION_CONFLICT, false},
		{"CRM12", ERR_FIELD_FORBIDDEN, true},
		{"CRM13", ERR_DUPLICATE, false},
		{"CRM14", ERR_NOT_FOUND, false},
		{"CRM15", ERR_BAD_REQUEST, true},
		{"CRM16", ERR_CONFLICT, false},
	};

	for (size_t i = 0; i < sizeof(engine) / sizeof(engine[0]); i++) {
		if (strcmp(state, engine[i].state) != 0)
			continue;
		if (engine[i].fields)
			detail_fields(r, detail);
		err_set(&r->err, engine[i].code, engine[i].code == ERR_CONFLICT ?
		    arena_strdup(r->arena, primary) : NULL);
		/* a duplicate names the record it matches: {"existing_id": n} */
		if (engine[i].code == ERR_DUPLICATE && detail != NULL && *detail == '{')
			r->err.extra_json = arena_strndup(r->arena, detail + 1,
			    strlen(detail) - 2);
		return;
	}
	err_set(&r->err, ERR_INTERNAL, NULL);
	log_error("unknown engine SQLSTATE %s: %s", state, primary);
}

/* Maps a failed result to r->err; the one place SQLSTATEs become codes. */
static void
fail_from_result(struct req *r, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *column = PQresultErrorField(res, PG_DIAG_COLUMN_NAME);

	r->db_constraint = constraint != NULL ?
	    arena_strdup(r->arena, constraint) : NULL;
	if (sqlstate_is(state, "CRM01"))
		err_set(&r->err, ERR_TENANT_SUSPENDED, NULL);
	else if (sqlstate_is(state, "CRM02"))
		err_set(&r->err, ERR_TENANT_MIGRATING, NULL);
	else if (sqlstate_is(state, "CRM03"))
		err_set(&r->err, ERR_FORBIDDEN, NULL);
	else if (sqlstate_is(state, "CRM04"))
		err_set(&r->err, ERR_UNAUTHORIZED, "This workspace no longer exists.");
	else if (sqlstate_is(state, "CRM1"))
		fail_from_engine(r, state, primary != NULL ? primary : "",
		    PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
	else if (sqlstate_is(state, "23502"))	/* a NULL the engine let through */
		err_field(&r->err, arena_strdup(r->arena, column != NULL ? column : "?"),
		    "required");
	else if (sqlstate_is(state, "23505"))
		err_set(&r->err, ERR_CONFLICT, NULL);
	else if (sqlstate_is(state, "40001") || sqlstate_is(state, "40P01"))
		err_set(&r->err, ERR_CONFLICT, "A concurrent change won; try again.");
	else if (sqlstate_is(state, "08") || sqlstate_is(state, "57P"))
		err_set(&r->err, ERR_DB_UNAVAILABLE, NULL);
	else if (sqlstate_is(state, "22")) {
		/* Input validation should have caught it: answer 400, log to mend. */
		err_set(&r->err, ERR_BAD_REQUEST, NULL);
		log_warn("SQL data exception: %s %s", state, primary != NULL ? primary : "");
	}
	else {
		err_set(&r->err, ERR_INTERNAL, NULL);
		log_error("SQL failed: %s %s", state != NULL ? state : "?",
		    primary != NULL ? primary : PQresultErrorMessage(res));
	}
}

static void
drop_connection(struct req *r)
{
	log_warn("database connection lost: %s", conn != NULL ?
	    PQerrorMessage(conn) : "not connected");
	db_disconnect();
	r->tx = TX_NONE;
	err_set(&r->err, ERR_DB_UNAVAILABLE, NULL);
}

/* Sends the batch in one round trip and reads every result. Returns the
 * result of the op marked keep, or NULL with r->err set. */
static PGresult *
run_batch(struct req *r, struct batch *b)
{
	PGresult *kept = NULL;
	bool failed = false;

	if (PQenterPipelineMode(conn) != 1)
		goto lost;
	for (int i = 0; i < b->n; i++)
		if (send_op(&b->ops[i]) != 1)
			goto lost;
	if (PQpipelineSync(conn) != 1)
		goto lost;
	for (int i = 0; i < b->n; i++) {
		PGresult *res = PQgetResult(conn);

		if (res == NULL || PQstatus(conn) != CONNECTION_OK) {
			PQclear(res);
			goto lost;
		}
		ExecStatusType status = PQresultStatus(res);
		if (status == PGRES_FATAL_ERROR && !failed) {
			failed = true;
			fail_from_result(r, res);
		} else if (status == PGRES_COMMAND_OK && b->ops[i].prepare) {
			b->ops[i].st->prepared_on = conn_generation;
		}
		if (b->ops[i].keep && !failed) {
			kept = res;
			arena_cleanup(r->arena, (void (*)(void *))PQclear, res);
		} else {
			PQclear(res);
		}
		PQclear(PQgetResult(conn));	/* the NULL that ends each query */
	}
	PGresult *sync = PQgetResult(conn);
	bool synced = sync != NULL && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
	PQclear(sync);
	if (!synced || PQexitPipelineMode(conn) != 1)
		goto lost;
	if (failed) {
		if (r->err.code == ERR_DB_UNAVAILABLE)
			goto lost;
		return NULL;
	}
	return kept;
lost:
	drop_connection(r);
	return NULL;
}

void
db_begin(struct req *r, int64_t tenant_id)
{
	if (r->tx != TX_NONE)
		return;
	r->tx = TX_PENDING;
	r->tx_tenant = tenant_id;
}

/* Runs the batch built by fill() after the preamble a pending transaction
 * still owes, and moves r->tx along. */
static PGresult *
exec_in_tx(struct req *r, struct db_stmt *st, const char *const *params,
    bool keep, bool commit)
{
	struct batch b = {.n = 0};

	if (r->tx == TX_FAILED)
		return NULL;
	if (r->tx == TX_NONE)
		db_begin(r, 0);
	if (r->tx == TX_PENDING && ensure_connection(&r->err) != 0) {
		r->tx = TX_NONE;
		return NULL;
	}
	/* A transaction sent whole in one batch needs no BEGIN and COMMIT:
	 * everything before the pipeline's Sync is one implicit transaction,
	 * committed at the Sync, or rolled back when a statement fails. */
	bool whole = r->tx == TX_PENDING && commit;
	if (r->tx == TX_PENDING)
		add_preamble(r, &b, !whole);
	if (st != NULL)
		add_op(&b, st, params, keep);
	if (commit && !whole)
		add_op(&b, &stmt_commit, NULL, false);
	PGresult *res = run_batch(r, &b);
	if (r->err.code != ERR_NONE)
		r->tx = conn == NULL || whole ? TX_NONE : TX_FAILED;
	else
		r->tx = commit ? TX_NONE : TX_OPEN;
	return res;
}

PGresult *
db_exec(struct req *r, struct db_stmt *st, unsigned flags,
    const char *const *params)
{
	PGresult *res = exec_in_tx(r, st, params, true, flags & DB_COMMIT);

	return r->err.code == ERR_NONE ? res : NULL;
}

const char *
db_value(struct req *r, struct db_stmt *st, unsigned flags,
    const char *const *params)
{
	PGresult *res = db_exec(r, st, flags, params);

	if (res == NULL)
		return NULL;
	if (PQntuples(res) == 0 || PQnfields(res) == 0 || PQgetisnull(res, 0, 0)) {
		err_set(&r->err, ERR_NOT_FOUND, NULL);
		return NULL;
	}
	return PQgetvalue(res, 0, 0);
}

int
db_switch_tenant(struct req *r, int64_t tenant_id)
{
	if (tenant_id > 0)
		exec_in_tx(r, &stmt_enter, (const char *const[]){
		    req_i64(r, tenant_id), "0", "false", NULL, NULL}, false, false);
	else
		exec_in_tx(r, &stmt_leave, NULL, false, false);
	return r->err.code == ERR_NONE ? 0 : -1;
}

int
db_script(struct req *r, const char *sql)
{
	if (r->tx != TX_OPEN)
		exec_in_tx(r, NULL, NULL, false, false);
	if (r->err.code != ERR_NONE)
		return -1;
	PGresult *res = PQexec(conn, sql);
	ExecStatusType status = PQresultStatus(res);
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
		if (PQstatus(conn) != CONNECTION_OK)
			drop_connection(r);
		else {
			fail_from_result(r, res);
			r->tx = TX_FAILED;
		}
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

int
db_commit(struct req *r)
{
	switch (r->tx) {
	case TX_NONE:
		return 0;
	case TX_FAILED:
		db_rollback(r);
		return -1;
	case TX_PENDING:
		if (r->tx_tenant <= 0) {	/* nothing was sent, nothing to check */
			r->tx = TX_NONE;
			return 0;
		}
		/* the tenant context and permission still get checked */
		__attribute__((fallthrough));
	case TX_OPEN:
		exec_in_tx(r, NULL, NULL, false, true);
		if (r->tx == TX_FAILED)
			db_rollback(r);
		return r->err.code == ERR_NONE ? 0 : -1;
	}
	return 0;
}

int
db_check_tenant(struct req *r)
{
	return db_commit(r);
}

void
db_rollback(struct req *r)
{
	if (r->tx == TX_OPEN || r->tx == TX_FAILED) {
		struct batch b = {.n = 0};
		struct err saved = r->err;

		add_op(&b, &stmt_rollback, NULL, false);
		r->err.code = ERR_NONE;
		run_batch(r, &b);
		r->err = saved;	/* the first failure is the one to report */
	}
	r->tx = TX_NONE;
}

int64_t
db_int64(const PGresult *res, int row, int col)
{
	if (res == NULL || row >= PQntuples(res) || PQgetisnull(res, row, col))
		return 0;
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

bool
db_violated(struct req *r, const char *constraint)
{
	return r->db_constraint != NULL && strcmp(r->db_constraint, constraint) == 0;
}

int
db_ping(void)
{
	struct arena a;
	struct req r;

	arena_init(&a);
	req_init(&r, &a);
	db_exec(&r, &stmt_ping, DB_COMMIT, NULL);
	int rc = r.err.code == ERR_NONE ? 0 : -1;
	arena_free(&a);
	return rc;
}

int
db_wait_notification(const char *listen_sql, int timeout_ms)
{
	struct err e = {0};

	if (ensure_connection(&e) != 0)
		return -1;
	if (!listening) {
		PGresult *res = PQexec(conn, listen_sql);
		listening = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
		if (!listening)
			return -1;
	}
	if (drain_notifications())
		return 1;
	struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN};
	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	return drain_notifications() ? 1 : 0;
}
