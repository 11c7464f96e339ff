/* crm-worker: the background worker. It runs the durable jobs of
 * public.jobs, claimed with FOR UPDATE SKIP LOCKED under a lease, so any
 * number of workers run side by side and a killed worker's jobs are taken up
 * again when their lease runs out. A failed job is retried after 2^attempts
 * seconds and ends `dead` after JOB_MAX_ATTEMPTS (`crmctl jobs` lists,
 * retries and drops them).
 *
 * Kinds (the SQL they run is in sql/tenant/007_imports.sql and
 * 008_automation.sql):
 *   events         a tenant's pending outbox events: rules, webhooks, timers
 *   timer          a due timer (task reminder, date rule), fired in batches
 *   sweep          a tenant's time rules and public pool, every few minutes
 *   deliver, email a webhook call or an e-mail (app/modules/automation/deliver.c)
 *   import         a large CSV import, 500 rows per transaction
 *   rule_backfill  timers of a date rule for the records it already has
 * Short kinds are claimed JOB_BATCH at a time; long or slow ones (import,
 * rule_backfill, deliver, email) one at a time, one of each sort per round. Between jobs the worker waits for the
 * `crm_jobs` notification that queuing a due job sends at commit, or a
 * second. It keeps a heartbeat key in Redis (TTL 30 s). SIGTERM lets the
 * job at hand finish. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/core/config.h"
#include "app/core/db.h"
#include "app/core/log.h"
#include "app/core/redis.h"
#include "app/modules/automation/deliver.h"

#define JOB_LEASE "60 seconds"
#define JOB_MAX_ATTEMPTS 5
#define JOB_BATCH "250"
/* long or slow: a step of an import, a webhook call of up to 10 s, an
 * e-mail of up to 30 s; one at a time, so the lease covers the job */
#define LONG_KINDS "'import', 'rule_backfill', 'deliver', 'email'"
#define IMPORT_BATCH "500"
#define EVENTS_BATCH "200"
#define SWEEP_EVERY "5 minutes"
#define HEARTBEAT_SECONDS 10
#define UPKEEP_SECONDS 30

static volatile sig_atomic_t stopping;

struct job {
	const char *id, *kind, *ref, *key, *payload;
	int64_t tenant, attempts;
	bool requeued;	/* put back by its step: neither done nor failed */
};

#define CLAIM(filter, limit) \
	"WITH c AS (UPDATE public.jobs SET status = 'running', attempts = attempts + 1, " \
	" locked_until = now() + interval '" JOB_LEASE "', updated_at = now() " \
	"WHERE id IN (SELECT id FROM public.jobs " \
	" WHERE (status = 'queued' OR (status = 'running' AND locked_until < now())) " \
	"  AND run_at <= now() AND " filter " ORDER BY run_at, id FOR UPDATE SKIP LOCKED " \
	"  LIMIT " limit ") " \
	"RETURNING id, tenant_id, kind, ref_id, attempts, key, payload) " \
	"SELECT id, tenant_id, kind, ref_id, attempts, key, payload::text FROM c " \
	"ORDER BY tenant_id, kind, id"
static struct db_stmt stmt_claim_short = DB_STMT(CLAIM("kind NOT IN (" LONG_KINDS ")", JOB_BATCH), 0);
static struct db_stmt stmt_claim_long = DB_STMT(CLAIM("kind IN (" LONG_KINDS ")", "1"), 0);
static struct db_stmt stmt_renew = DB_STMT(
    "UPDATE public.jobs SET locked_until = now() + interval '" JOB_LEASE "', "
    "updated_at = now() WHERE id = $1", 1);
static struct db_stmt stmt_done = DB_STMT(
    "UPDATE public.jobs SET status = 'done', last_error = NULL, locked_until = NULL, "
    "updated_at = now() WHERE id = ANY($1::bigint[])", 1);
/* $2: queued (retry after 2^attempts s, or at once when $4: stopped, not
 * failed) or dead; $3 the last error. */
static struct db_stmt stmt_finish = DB_STMT(
    "UPDATE public.jobs SET status = $2, last_error = $3, locked_until = NULL, "
    " attempts = attempts - CASE WHEN $4 THEN 1 ELSE 0 END, "
    " run_at = CASE WHEN $4 THEN now() WHEN $2 = 'queued' "
    "  THEN now() + make_interval(secs => power(2, attempts)) ELSE run_at END, "
    " updated_at = now() WHERE id = $1", 4);
/* Another worker holds the tenant's events: look again in a second, unless a
 * queued events job of the tenant will anyway. */
static struct db_stmt stmt_events_later = DB_STMT(
    "UPDATE public.jobs j SET locked_until = NULL, attempts = attempts - 1, "
    " run_at = now() + interval '1 second', updated_at = now(), "
    " status = CASE WHEN EXISTS (SELECT 1 FROM public.jobs q WHERE q.tenant_id = j.tenant_id "
    "  AND q.kind = 'events' AND q.status = 'queued') THEN 'done' ELSE 'queued' END "
    "WHERE id = $1", 1);
/* Every few minutes each active tenant's sweep is due once (the key names
 * the slot, so several workers queue it once), at a second of the slot of
 * its own, so that thousands of sweeps never come due at once in front of
 * the events and timers; finished jobs are kept a day. */
static struct db_stmt stmt_schedule_sweeps = DB_STMT(
    "INSERT INTO public.jobs (tenant_id, kind, ref_id, key, run_at) "
    "SELECT t.id, 'sweep', 0, 'sweep:' || s.slot, "
    " to_timestamp(s.slot * s.len) + make_interval(secs => t.id % s.len) "
    "FROM public.tenants t, (SELECT extract(epoch FROM now())::bigint / x.len AS slot, x.len "
    " FROM (SELECT extract(epoch FROM interval '" SWEEP_EVERY "')::bigint AS len) x) s "
    "WHERE t.status = 'active' ON CONFLICT DO NOTHING", 0);
/* Milliseconds until the next queued job is due, at most a second: timers
 * fire on their second rather than at the next poll (NOTIFY only tells of
 * jobs due when queued). */
static struct db_stmt stmt_next_due = DB_STMT(
    "SELECT coalesce(least(1000, greatest(0, "
    " ceil(extract(epoch FROM min(run_at) - now()) * 1000))), 1000)::int "
    "FROM public.jobs WHERE status = 'queued'", 0);
static struct db_stmt stmt_forget_done = DB_STMT(
    "DELETE FROM public.jobs WHERE status = 'done' AND updated_at < now() - interval '1 day'", 0);

static struct db_stmt stmt_import_batch = DB_STMT(
    "SELECT import_run($1, " IMPORT_BATCH ")->>'status'", 1);
static struct db_stmt stmt_events = DB_STMT(
    "SELECT automation_events(" EVENTS_BATCH ")", 0);
static struct db_stmt stmt_outbox_barrier = DB_STMT("SELECT outbox_barrier()", 0);
static struct db_stmt stmt_timers = DB_STMT("SELECT timers_fire($1::jsonb, $2)::text", 2);
static struct db_stmt stmt_sweep = DB_STMT("SELECT automation_sweep()::text", 0);
static struct db_stmt stmt_backfill = DB_STMT("SELECT rule_backfill($1, $2, 1000)", 2);

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

static int
next_due_ms(struct arena *a)
{
	struct req r;

	req_init(&r, a);
	const char *ms = DB_VALUE(&r, &stmt_next_due, DB_COMMIT, NULL);
	int wait = ms != NULL ? atoi(ms) : 1000;
	db_rollback(&r);
	arena_reset(a);
	return wait;
}

/* Queues the sweeps due and forgets old finished jobs. */
static void
upkeep(struct arena *a)
{
	struct req r;

	req_init(&r, a);
	if (DB_EXEC(&r, &stmt_schedule_sweeps, DB_COMMIT, NULL) == NULL ||
	    DB_EXEC(&r, &stmt_forget_done, DB_COMMIT, NULL) == NULL)
		log_warn("upkeep failed: %s", err_name(r.err.code));
	db_rollback(&r);
	arena_reset(a);
}

/* Runs a job that goes on in steps, one transaction per step, renewing the
 * lease between them: step returns 1 while there is more, 0 at the end, -1
 * on failure. Returns as run_* do: 0 done, 1 stopped, -1 failed. */
static int
run_steps(struct req *r, struct job *j, int (*step)(struct req *, struct job *))
{
	while (!stopping) {
		int more = step(r, j);
		if (more <= 0)
			return more;
		if (DB_EXEC(r, &stmt_renew, DB_COMMIT, j->id) == NULL)
			return -1;
	}
	return 1;
}

static int
import_step(struct req *r, struct job *j)
{
	db_begin(r, j->tenant);
	const char *status = DB_VALUE(r, &stmt_import_batch, DB_COMMIT, j->ref);
	return status == NULL ? -1 : strcmp(status, "running") == 0;
}

/* The backfill's progress is the last record id looked at, in the job's
 * key-less payload; a restarted backfill starts over (timers are queued
 * once per key, so nothing is scheduled twice). */
static int
backfill_step(struct req *r, struct job *j)
{
	db_begin(r, j->tenant);
	PGresult *res = DB_EXEC(r, &stmt_backfill, DB_COMMIT, j->ref, j->payload);
	if (res == NULL)
		return -1;
	if (PQgetisnull(res, 0, 0))
		return 0;
	j->payload = arena_strdup(r->arena, PQgetvalue(res, 0, 0));
	return 1;
}

/* A tenant's events, EVENTS_BATCH per transaction, until none are left.
 * When another worker is at them, this job is put back (or ended, when a
 * queued one will come anyway) and counts as requeued. */
static int
events_step(struct req *r, struct job *j)
{
	/* first wait for the writers that counted on this job while it was queued */
	db_begin(r, j->tenant);
	if (DB_EXEC(r, &stmt_outbox_barrier, DB_COMMIT, NULL) == NULL)
		return -1;
	db_begin(r, j->tenant);
	const char *status = DB_VALUE(r, &stmt_events, DB_COMMIT, NULL);
	if (status == NULL)
		return -1;
	if (strcmp(status, "busy") == 0) {
		j->requeued = true;
		return DB_EXEC(r, &stmt_events_later, DB_COMMIT, j->id) == NULL ? -1 : 0;
	}
	return strcmp(status, "more") == 0;
}

static int
run_sweep(struct req *r, struct job *j)
{
	db_begin(r, j->tenant);
	return DB_VALUE(r, &stmt_sweep, DB_COMMIT, NULL) == NULL ? -1 : 0;
}

/* Records the end of a job that did not simply succeed. */
static void
finish(struct req *r, struct job *j, int rc, const char *error)
{
	const char *status = rc > 0 ? "queued" :
	    j->attempts >= JOB_MAX_ATTEMPTS ? "dead" : "queued";
	if (rc < 0)
		log_warn("job %s (%s %s of tenant %lld) failed, attempt %lld: %s", j->id,
		    j->kind, j->ref, (long long)j->tenant, (long long)j->attempts, error);
	if (DB_EXEC(r, &stmt_finish, DB_COMMIT, j->id, status, error,
	    rc > 0 ? "true" : "false") == NULL)
		log_warn("job %s: could not record its end; its lease will run out", j->id);
}

/* Runs one claimed job (not a timer); 0 when it succeeded. */
static int
run_job(struct req *r, struct job *j)
{
	int rc;

	if (strcmp(j->kind, "events") == 0)
		rc = run_steps(r, j, events_step);
	else if (strcmp(j->kind, "sweep") == 0)
		rc = run_sweep(r, j);
	else if (strcmp(j->kind, "deliver") == 0 || strcmp(j->kind, "email") == 0)
		rc = deliver_run(r, j->kind, j->tenant, j->ref, j->attempts >= JOB_MAX_ATTEMPTS);
	else if (strcmp(j->kind, "import") == 0)
		rc = run_steps(r, j, import_step);
	else if (strcmp(j->kind, "rule_backfill") == 0)
		rc = run_steps(r, j, backfill_step);
	else
		rc = err_set(&r->err, ERR_INTERNAL, "unknown job kind");
	const char *error = rc >= 0 ? NULL : r->err.message == NULL ? err_name(r->err.code) :
	    arena_printf(r->arena, "%s: %s", err_name(r->err.code), r->err.message);
	db_rollback(r);
	r->err = (struct err){0};
	if (j->requeued)
		return 1;
	if (rc != 0)
		finish(r, j, rc, error);
	return rc;
}

static struct job
job_of(struct arena *a, PGresult *res, int i)
{
	return (struct job){
		.id = arena_strdup(a, PQgetvalue(res, i, 0)),
		.tenant = db_int64(res, i, 1),
		.kind = arena_strdup(a, PQgetvalue(res, i, 2)),
		.ref = arena_strdup(a, PQgetvalue(res, i, 3)),
		.attempts = db_int64(res, i, 4),
		.key = arena_strdup(a, PQgetvalue(res, i, 5)),
		.payload = PQgetisnull(res, i, 6) ? "0" : arena_strdup(a, PQgetvalue(res, i, 6)),
	};
}

/* Fires the timers jobs[from, to) of one tenant in one transaction, which
 * also marks the ones that fired done; the ones that failed are retried on
 * their own schedule. */
static void
fire_timers(struct req *r, struct job *jobs, int from, int to)
{
	struct buf batch;

	buf_init(&batch, r->arena);
	buf_adds(&batch, "[");
	for (int i = from; i < to; i++) {
		buf_addf(&batch, "%s{\"id\":%s,\"ref_id\":%s,\"payload\":%s,\"key\":",
		    i > from ? "," : "", jobs[i].id, jobs[i].ref, jobs[i].payload);
		buf_add_json_str(&batch, jobs[i].key);
		buf_adds(&batch, "}");
	}
	buf_adds(&batch, "]");
	db_begin(r, jobs[from].tenant);
	/* [{"id": n, "error": "…"}] of the ones that failed */
	const char *failed = DB_VALUE(r, &stmt_timers, DB_COMMIT, buf_cstr(&batch),
	    config.public_url);
	/* the failed ones' errors, whole (a batch holds at most JOB_BATCH) */
	const char *error = failed == NULL ? err_name(r->err.code) : failed;
	db_rollback(r);
	r->err = (struct err){0};
	for (int i = from; i < to; i++) {
		const char *needle = arena_printf(r->arena, "\"id\": %s,", jobs[i].id);
		if (failed == NULL || strstr(failed, needle) != NULL)
			finish(r, &jobs[i], -1, error);
	}
}

/* Claims and runs a batch of due jobs; returns how many there were. */
static int
run_due_jobs(struct arena *a, struct db_stmt *claim)
{
	struct req r;
	struct buf done;

	req_init(&r, a);
	PGresult *res = DB_EXEC(&r, claim, DB_COMMIT, NULL);
	int n = res != NULL ? PQntuples(res) : 0;
	if (res == NULL)
		log_warn("jobs: claim failed: %s", err_name(r.err.code));
	struct job *jobs = arena_alloc(a, sizeof(*jobs) * (n > 0 ? n : 1));
	for (int i = 0; i < n; i++)
		jobs[i] = job_of(a, res, i);
	db_rollback(&r);
	r.err = (struct err){0};
	buf_init(&done, a);
	buf_adds(&done, "{");
	for (int i = 0; i < n && !stopping;) {
		int end = i + 1;
		if (strcmp(jobs[i].kind, "timer") == 0) {
			while (end < n && jobs[end].tenant == jobs[i].tenant &&
			    strcmp(jobs[end].kind, "timer") == 0)
				end++;
			fire_timers(&r, jobs, i, end);
		} else if (run_job(&r, &jobs[i]) == 0) {
			buf_addf(&done, "%s%s", buf_cstr(&done)[1] == '\0' ? "" : ",", jobs[i].id);
		}
		i = end;
	}
	buf_adds(&done, "}");
	if (strcmp(buf_cstr(&done), "{}") != 0 &&
	    DB_EXEC(&r, &stmt_done, DB_COMMIT, buf_cstr(&done)) == NULL)
		log_warn("jobs: could not record finished jobs; their leases will run out");
	db_rollback(&r);
	arena_reset(a);
	return n;
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
	deliver_init();
	log_info("crm-worker started");
	time_t next_beat = 0, next_upkeep = 0;
	while (!stopping) {
		if (time(NULL) >= next_beat) {
			heartbeat(&arena);
			next_beat = time(NULL) + HEARTBEAT_SECONDS;
		}
		if (time(NULL) >= next_upkeep) {
			upkeep(&arena);
			next_upkeep = time(NULL) + UPKEEP_SECONDS;
		}
		/* both every round, so neither kind waits for the other to run dry */
		int ran = run_due_jobs(&arena, &stmt_claim_short);
		ran += run_due_jobs(&arena, &stmt_claim_long);
		if (ran > 0 || stopping)
			continue;
		if (db_wait_notification("LISTEN crm_jobs", next_due_ms(&arena)) < 0)
			sleep(1);
	}
	log_info("crm-worker stopped");
	deliver_cleanup();
	redis_disconnect();
	db_disconnect();
	arena_free(&arena);
	return 0;
}
