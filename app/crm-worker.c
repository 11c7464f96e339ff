/* crm-worker: the background worker. It runs the durable jobs of
 * public.jobs (today: large CSV imports), claimed with FOR UPDATE SKIP LOCKED
 * under a lease so that any number of workers run side by side and a killed
 * worker's job is taken up again; a failed job is retried with exponential
 * backoff and ends `dead` after JOB_MAX_ATTEMPTS. It also keeps a heartbeat
 * key in Redis (TTL 30 s). SIGTERM lets the batch at hand finish. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/core/config.h"
#include "app/core/db.h"
#include "app/core/log.h"
#include "app/core/redis.h"

#define JOB_LEASE "60 seconds"
#define JOB_MAX_ATTEMPTS 5
#define IMPORT_BATCH "500"
#define HEARTBEAT_SECONDS 10

static volatile sig_atomic_t stopping;

static struct db_stmt stmt_claim = DB_STMT(
    "UPDATE public.jobs SET status = 'running', attempts = attempts + 1, "
    " locked_until = now() + interval '" JOB_LEASE "', updated_at = now() "
    "WHERE id = (SELECT id FROM public.jobs "
    " WHERE (status = 'queued' OR (status = 'running' AND locked_until < now())) "
    "  AND run_at <= now() ORDER BY run_at, id FOR UPDATE SKIP LOCKED LIMIT 1) "
    "RETURNING id, tenant_id, kind, ref_id, attempts", 0);
static struct db_stmt stmt_renew = DB_STMT(
    "UPDATE public.jobs SET locked_until = now() + interval '" JOB_LEASE "', "
    "updated_at = now() WHERE id = $1", 1);
/* $2: done, queued (retry after 2^attempts s) or dead; $3 the last error. */
static struct db_stmt stmt_finish = DB_STMT(
    "UPDATE public.jobs SET status = $2, last_error = $3, locked_until = NULL, "
    " run_at = CASE WHEN $2 = 'queued' THEN now() + make_interval(secs => power(2, attempts)) "
    "  ELSE run_at END, updated_at = now() WHERE id = $1", 3);
/* One batch of an import, in the tenant's context: 'done' or 'running'. */
static struct db_stmt stmt_import_batch = DB_STMT(
    "SELECT import_run($1, " IMPORT_BATCH ")->>'status'", 1);

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void
heartbeat(struct arena *a)
{
	char host[128] = "host";
	struct req r;

	gethostname(host, sizeof(host) - 1);
	req_init(&r, a);
	const char *key = arena_printf(a, "worker:%s:%d", host, (int)getpid());
	if (REDIS(&r, "SET", key, "alive", "EX", "30") == NULL)
		log_warn("heartbeat failed: Redis is unavailable");
	arena_reset(a);
}

/* Runs import ref of tenant tid to its end, a batch per transaction,
 * renewing the lease between batches. */
static int
run_import(struct req *r, const char *job, int64_t tid, const char *ref)
{
	while (!stopping) {
		db_begin(r, tid);
		const char *status = DB_VALUE(r, &stmt_import_batch, DB_COMMIT, ref);
		if (status == NULL)
			return -1;
		if (strcmp(status, "running") != 0)
			return 0;
		if (DB_EXEC(r, &stmt_renew, DB_COMMIT, job) == NULL)
			return -1;
	}
	return 1;	/* stopped: the job goes back to the queue */
}

/* Claims and runs one due job; returns 1 when there was one. */
static int
run_one_job(struct arena *a)
{
	struct req r;

	req_init(&r, a);
	PGresult *res = DB_EXEC(&r, &stmt_claim, DB_COMMIT, NULL);
	if (res == NULL || PQntuples(res) == 0) {
		if (res == NULL)
			log_warn("jobs: claim failed: %s", err_name(r.err.code));
		arena_reset(a);
		return 0;
	}
	const char *job = arena_strdup(a, PQgetvalue(res, 0, 0));
	const char *kind = arena_strdup(a, PQgetvalue(res, 0, 2));
	const char *ref = arena_strdup(a, PQgetvalue(res, 0, 3));
	int64_t tid = db_int64(res, 0, 1), attempts = db_int64(res, 0, 4);
	int rc = strcmp(kind, "import") == 0 ? run_import(&r, job, tid, ref) :
	    err_set(&r.err, ERR_INTERNAL, "unknown job kind");
	const char *error = rc < 0 ? err_name(r.err.code) : NULL;
	const char *status = rc == 0 ? "done" : rc > 0 ? "queued" :
	    attempts >= JOB_MAX_ATTEMPTS ? "dead" : "queued";
	if (rc < 0)
		log_warn("job %s (%s %s of tenant %lld) failed, attempt %lld: %s", job,
		    kind, ref, (long long)tid, (long long)attempts, error);
	db_rollback(&r);
	r.err = (struct err){0};
	if (DB_EXEC(&r, &stmt_finish, DB_COMMIT, job, status, error) == NULL)
		log_warn("job %s: could not record its end; its lease will run out", job);
	arena_reset(a);
	return 1;
}

int
main(void)
{
	struct arena arena;

	if (config_load(0) != 0)
		return 1;
	db_set_conninfo(config.database_url);
	redis_set_url(config.redis_url);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	arena_init(&arena);
	log_info("crm-worker started");
	time_t next_beat = 0;
	while (!stopping) {
		if (time(NULL) >= next_beat) {
			heartbeat(&arena);
			next_beat = time(NULL) + HEARTBEAT_SECONDS;
		}
		if (!run_one_job(&arena) && !stopping)
			sleep(1);
	}
	log_info("crm-worker stopped");
	redis_disconnect();
	db_disconnect();
	arena_free(&arena);
	return 0;
}
