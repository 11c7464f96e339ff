/* PostgreSQL access: one libpq connection per process, reconnected on demand.
 *
 * Every unit of work runs in one transaction. The first statement of a request
 * is sent in one round trip with BEGIN, the tenant context (SET LOCAL ROLE and
 * search_path, checking the tenant is active) and the route's permission
 * check, using libpq's pipeline mode; DB_COMMIT adds the COMMIT to the same
 * round trip. Statements are prepared on first use on each connection.
 *
 * Failures fill r->err: a lost connection gives ERR_DB_UNAVAILABLE, the
 * CRMxx SQLSTATEs raised by our SQL functions map to their codes, a unique
 * violation gives ERR_CONFLICT with r->db_constraint naming the index. */
#ifndef CRM_DB_H
#define CRM_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "req.h"

/* A named SQL statement; declare them `static struct db_stmt` beside the
 * module that runs them. The runtime fields belong to db.c. */
struct db_stmt {
	const char *sql;
	int nparams;
	int id;		/* assigned on first use */
	unsigned prepared_on;	/* connection generation it was prepared on */
};

#define DB_STMT(text, n) {.sql = (text), .nparams = (n)}

enum db_flags {
	DB_COMMIT = 1 << 0,	/* commit in the same round trip */
};

/* The latest tenant schema version this binary knows (tenants/migrations). */
extern int db_tenant_schema_version;

/* The connection string used at the next connect (crmctl migrate uses the
 * admin one). */
void db_set_conninfo(const char *conninfo);

/* Starts the unit of work's transaction lazily: BEGIN (and the tenant context
 * when tenant_id > 0) go out with the first statement. */
void db_begin(struct req *r, int64_t tenant_id);

/* Runs st with text parameters (NULL = SQL NULL) in the transaction, opening
 * it if needed. Returns the result (freed with the arena) or NULL with r->err
 * set; after a failure the transaction can only be rolled back. */
PGresult *db_exec(struct req *r, struct db_stmt *st, unsigned flags,
    const char *const *params);

#define DB_EXEC(r, st, flags, ...) \
	db_exec((r), (st), (flags), (const char *const[]){__VA_ARGS__, NULL})

/* The first column of the first row, or NULL with ERR_NOT_FOUND when there
 * is no row (or r->err from db_exec). */
const char *db_value(struct req *r, struct db_stmt *st, unsigned flags,
    const char *const *params);

#define DB_VALUE(r, st, flags, ...) \
	db_value((r), (st), (flags), (const char *const[]){__VA_ARGS__, NULL})

/* Switches the open transaction into tenant_id's context without the
 * version check (provisioning and migration), or back to the platform
 * context with tenant_id == 0. */
int db_switch_tenant(struct req *r, int64_t tenant_id);

/* Runs a multi-statement SQL script in the open transaction. */
int db_script(struct req *r, const char *sql);

/* Checks now that the tenant is active and the route's permission holds, for
 * handlers whose work is outside PostgreSQL (sessions in Redis), and ends the
 * transaction. */
int db_check_tenant(struct req *r);

/* Ends the transaction: COMMIT when it is healthy (a failed commit fills
 * r->err and returns -1), ROLLBACK otherwise. No-op without a transaction. */
int db_commit(struct req *r);
void db_rollback(struct req *r);

/* The integer in a result cell; 0 for NULL or a missing row. */
int64_t db_int64(const PGresult *res, int row, int col);

/* True when the last failure was a violation of the named constraint. */
bool db_violated(struct req *r, const char *constraint);

/* 0 when the database answers a trivial query now. */
int db_ping(void);

/* Waits up to timeout_ms for a notification on the channel that listen_sql
 * ("LISTEN name") subscribes to, issuing it first on a new connection.
 * Returns 1 when one arrived, 0 on timeout, -1 when the database is out of
 * reach. crm-worker sleeps in it between jobs. */
int db_wait_notification(const char *listen_sql, int timeout_ms);

/* Closes the connection (before fork, at exit). */
void db_disconnect(void);

#endif
