/* crmctl: the operator's command line.
 *   crmctl migrate                       platform schema (CRM_ADMIN_DATABASE_URL)
 *   crmctl tenants migrate [--jobs N]    every tenant schema, N in parallel
 *   crmctl tenants create --slug S --company C --name N --email E
 *          (--password P | --password-file F) [--locale zh-CN|en]
 *   crmctl tenants export --slug S       the tenant's data to CRM_EXPORT_DIR
 *   crmctl operators create --email E --name N (--password P | --password-file F)
 *   crmctl jobs list [--status queued|running|done|dead] [--kind K]
 *   crmctl jobs retry --id N | --status dead      queue again, attempts reset
 *   crmctl jobs drop --id N | --status dead       delete
 * Exit status 0 on success; errors go to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/core/auth.h"
#include "app/core/config.h"
#include "app/core/db.h"
#include "app/core/json.h"
#include "app/core/log.h"
#include "app/modules/auth/identity.h"
#include "tenants/tenants.h"

struct opts {
	const char *slug, *company, *name, *email, *password, *locale;
	const char *id, *status, *kind;	/* jobs */
	int jobs;
};

static struct db_stmt stmt_tenant_owner = DB_STMT(
    "SELECT t.id, u.password_hash FROM public.tenants t "
    "JOIN public.users u ON u.id = t.owner_user_id WHERE t.slug = $1", 1);
static struct db_stmt stmt_tenant_by_slug = DB_STMT(
    "SELECT id FROM public.tenants WHERE slug = $1", 1);
static struct db_stmt stmt_operator_upsert = DB_STMT(
    "INSERT INTO public.operators (email, name, password_hash) VALUES ($1, $2, $3) "
    "ON CONFLICT (email) DO UPDATE SET name = $2, password_hash = $3 RETURNING id", 3);

/* The jobs a command acts on: one id, or every job of a status. */
#define JOBS_WHERE "WHERE ($1::bigint IS NULL OR id = $1::bigint) " \
    "AND ($2::text IS NULL OR status = $2) AND ($1 IS NOT NULL OR $2 IS NOT NULL)"
static struct db_stmt stmt_jobs_list = DB_STMT(
    "SELECT id, tenant_id, kind, ref_id, status, attempts, run_at, coalesce(last_error, '') "
    "FROM public.jobs WHERE ($1::text IS NULL OR status = $1) "
    "AND ($2::text IS NULL OR kind = $2) ORDER BY id DESC LIMIT 1000", 2);
static struct db_stmt stmt_jobs_retry = DB_STMT(
    "UPDATE public.jobs SET status = 'queued', attempts = 0, run_at = now(), "
    "locked_until = NULL, updated_at = now() " JOBS_WHERE " AND status IN ('dead', 'done')", 2);
static struct db_stmt stmt_jobs_drop = DB_STMT(
    "DELETE FROM public.jobs " JOBS_WHERE " AND status <> 'running'", 2);

static int
usage(void)
{
	fputs("usage: crmctl migrate | tenants migrate [--jobs N] |\n"
	    "  tenants create --slug S --company C --name N --email E "
	    "(--password P | --password-file F) [--locale L] |\n"
	    "  tenants export --slug S |\n"
	    "  operators create --email E --name N (--password P | --password-file F) |\n"
	    "  jobs list [--status S] [--kind K] | jobs retry|drop (--id N | --status dead)\n",
	    stderr);
	return 2;
}

static char *
read_secret(const char *path)
{
	static char buf[512];
	FILE *f = fopen(path, "r");

	if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
		if (f != NULL)
			fclose(f);
		return NULL;
	}
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.locale = "zh-CN", .jobs = 1};
	for (int i = 0; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (strcmp(k, "--slug") == 0) o->slug = v;
		else if (strcmp(k, "--company") == 0) o->company = v;
		else if (strcmp(k, "--name") == 0) o->name = v;
		else if (strcmp(k, "--email") == 0) o->email = v;
		else if (strcmp(k, "--password") == 0) o->password = v;
		else if (strcmp(k, "--password-file") == 0) o->password = read_secret(v);
		else if (strcmp(k, "--locale") == 0) o->locale = v;
		else if (strcmp(k, "--jobs") == 0) o->jobs = atoi(v);
		else if (strcmp(k, "--id") == 0) o->id = v;
		else if (strcmp(k, "--status") == 0) o->status = v;
		else if (strcmp(k, "--kind") == 0) o->kind = v;
		else return -1;
	}
	return argc % 2 == 0 ? 0 : -1;
}

/* Reports r's error and returns 1. */
static int
failed(struct req *r, const char *what)
{
	fprintf(stderr, "crmctl: %s failed: %s (%s)\n", what, err_name(r->err.code),
	    r->err.message != NULL ? r->err.message : err_default_message(r->err.code));
	db_rollback(r);
	return 1;
}

static int
cmd_migrate(struct req *r)
{
	db_set_conninfo(config.admin_database_url);
	return tenants_migrate_platform(r) == 0 ? 0 : failed(r, "migrate");
}

/* One migrator: takes tenants until none is left behind. */
static int
migrate_tenants_loop(struct req *r)
{
	int64_t id;

	do {
		if (tenants_migrate_next(r, &id) != 0)
			return failed(r, "tenants migrate");
		arena_reset(r->arena);
		req_init(r, r->arena);
	} while (id != 0);
	return 0;
}

static int
cmd_tenants_migrate(struct req *r, int jobs)
{
	int status, rc = 0;

	if (jobs <= 1)
		return migrate_tenants_loop(r);
	for (int i = 0; i < jobs; i++)
		if (fork() == 0)
			_exit(migrate_tenants_loop(r));
	while (wait(&status) > 0)
		rc |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	return rc;
}

/* Idempotent for `make run`: an existing slug whose owner has this password
 * is success. */
static int
cmd_tenants_create(struct req *r, struct opts *o)
{
	struct tenant_owner owner = {.email = o->email, .name = o->name,
	    .locale = o->locale};
	char hash[AUTH_HASH_MAX];
	int64_t id;

	if (!o->slug || !o->company || !o->name || !o->email || !o->password)
		return usage();
	PGresult *res = DB_EXEC(r, &stmt_tenant_owner, DB_COMMIT, o->slug);
	if (res == NULL)
		return failed(r, "tenants create");
	if (PQntuples(res) == 1) {
		if (!auth_password_verify(PQgetvalue(res, 0, 1), o->password)) {
			fprintf(stderr, "crmctl: tenant %s exists with another owner password\n", o->slug);
			return 1;
		}
		printf("%s\n", PQgetvalue(res, 0, 0));
		return 0;
	}
	owner.password_hash = hash;
	if (identity_account_for(r, o->email, o->password, ERR_EMAIL_TAKEN,
	    &owner.user_id, hash) != 0 ||
	    tenants_provision(r, o->slug, o->company, &owner, &id) != 0 ||
	    db_commit(r) != 0)
		return failed(r, "tenants create");
	printf("%lld\n", (long long)id);
	return 0;
}

static int
cmd_tenants_export(struct req *r, struct opts *o)
{
	const char *file;

	if (o->slug == NULL)
		return usage();
	const char *id = DB_VALUE(r, &stmt_tenant_by_slug, 0, o->slug);
	if (id == NULL || tenants_export(r, strtoll(id, NULL, 10), &file) != 0 ||
	    db_commit(r) != 0)
		return failed(r, "tenants export");
	printf("%s/%s\n", config.export_dir, file);
	return 0;
}

static int
cmd_operators_create(struct req *r, struct opts *o)
{
	char hash[AUTH_HASH_MAX];

	if (!o->email || !o->name || !o->password)
		return usage();
	if (!email_valid(o->email) || strlen(o->password) < 8) {
		fputs("crmctl: need a valid e-mail and a password of 8 characters or more\n", stderr);
		return 1;
	}
	if (auth_password_hash(o->password, hash) != 0 ||
	    DB_EXEC(r, &stmt_operator_upsert, DB_COMMIT, o->email, o->name, hash) == NULL)
		return failed(r, "operators create");
	return 0;
}

/* Lists jobs, tab-separated: id tenant kind ref status attempts run_at error. */
static int
cmd_jobs_list(struct req *r, struct opts *o)
{
	PGresult *res = DB_EXEC(r, &stmt_jobs_list, DB_COMMIT, o->status, o->kind);
	if (res == NULL)
		return failed(r, "jobs list");
	for (int i = 0; i < PQntuples(res); i++)
		for (int c = 0; c < PQnfields(res); c++)
			printf("%s%c", PQgetvalue(res, i, c), c + 1 < PQnfields(res) ? '\t' : '\n');
	return 0;
}

/* Retries or drops the jobs named by --id or --status; prints how many. */
static int
cmd_jobs_change(struct req *r, struct opts *o, struct db_stmt *st, const char *what)
{
	if (o->id == NULL && o->status == NULL)
		return usage();
	PGresult *res = DB_EXEC(r, st, DB_COMMIT, o->id, o->status);
	if (res == NULL)
		return failed(r, what);
	printf("%s\n", PQcmdTuples(res));
	return 0;
}

int
main(int argc, char **argv)
{
	struct arena arena;
	struct req r;
	struct opts o;

	if (argc < 2 || config_load(0) != 0 || auth_init() != 0)
		return usage();
	db_set_conninfo(config.database_url);
	db_tenant_schema_version = tenants_latest_version();
	arena_init(&arena);
	req_init(&r, &arena);
	const char *cmd = argv[1], *sub = argc > 2 ? argv[2] : "";
	int rc;
	if (strcmp(cmd, "migrate") == 0 && argc == 2)
		rc = cmd_migrate(&r);
	else if (argc < 3 || parse_opts(argc - 3, argv + 3, &o) != 0)
		rc = usage();
	else if (strcmp(cmd, "tenants") == 0 && strcmp(sub, "migrate") == 0)
		rc = cmd_tenants_migrate(&r, o.jobs);
	else if (strcmp(cmd, "tenants") == 0 && strcmp(sub, "create") == 0)
		rc = cmd_tenants_create(&r, &o);
	else if (strcmp(cmd, "tenants") == 0 && strcmp(sub, "export") == 0)
		rc = cmd_tenants_export(&r, &o);
	else if (strcmp(cmd, "operators") == 0 && strcmp(sub, "create") == 0)
		rc = cmd_operators_create(&r, &o);
	else if (strcmp(cmd, "jobs") == 0 && strcmp(sub, "list") == 0)
		rc = cmd_jobs_list(&r, &o);
	else if (strcmp(cmd, "jobs") == 0 && strcmp(sub, "retry") == 0)
		rc = cmd_jobs_change(&r, &o, &stmt_jobs_retry, "jobs retry");
	else if (strcmp(cmd, "jobs") == 0 && strcmp(sub, "drop") == 0)
		rc = cmd_jobs_change(&r, &o, &stmt_jobs_drop, "jobs drop");
	else
		rc = usage();
	db_disconnect();
	arena_free(&arena);
	return rc;
}
