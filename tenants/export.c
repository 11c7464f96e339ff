/* Exporting a tenant's data to a file, and removing a tenant; see
 * tenants.h. The export is one JSON document: the tenant row, its members'
 * accounts (without password hashes) and every table of its schema. */
#include "tenants/tenants.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/core/config.h"
#include "app/core/db.h"
#include "app/core/log.h"

static struct db_stmt stmt_platform_part = DB_STMT(
    "SELECT t.slug, json_build_object("
    " 'tenant', to_jsonb(t),"
    " 'accounts', (SELECT coalesce(json_agg(json_build_object("
    "   'id', u.id, 'email', u.email, 'name', u.name, 'created_at', u.created_at)"
    "   ORDER BY u.id), '[]')"
    "  FROM public.memberships m JOIN public.users u ON u.id = m.user_id"
    "  WHERE m.tenant_id = t.id))::text "
    "FROM public.tenants t WHERE t.id = $1 FOR UPDATE", 1);
static struct db_stmt stmt_tenant_part = DB_STMT("SELECT export_data()::text", 0);
static struct db_stmt stmt_delete_rows = DB_STMT(
    "WITH m AS (DELETE FROM public.memberships WHERE tenant_id = $1) "
    "DELETE FROM public.tenants WHERE id = $1", 1);
static struct db_stmt stmt_drop_schema = DB_STMT(
    "SELECT public.crm_tenant_drop($1)", 1);

/* Writes the document with mode 0600; the name is unique per second. */
static int
write_export(struct req *r, const char *name, const char *platform,
    const char *data)
{
	const char *path = arena_printf(r->arena, "%s/%s", config.export_dir, name);

	mkdir(config.export_dir, 0700);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		log_error("cannot write export %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return err_set(&r->err, ERR_INTERNAL, NULL);
	}
	/* platform is a JSON object: splice the schema's data in as "data". */
	fwrite(platform, 1, strlen(platform) - 1, f);
	fprintf(f, ",\"data\":%s}\n", data);
	if (fclose(f) != 0) {
		log_error("cannot write export %s: %s", path, strerror(errno));
		return err_set(&r->err, ERR_INTERNAL, NULL);
	}
	return 0;
}

int
tenants_export(struct req *r, int64_t tenant_id, const char **file)
{
	const char *tid = req_i64(r, tenant_id);
	PGresult *res = DB_EXEC(r, &stmt_platform_part, 0, tid);

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0)
		return err_set(&r->err, ERR_NOT_FOUND, NULL);
	const char *slug = PQgetvalue(res, 0, 0), *platform = PQgetvalue(res, 0, 1);
	if (db_switch_tenant(r, tenant_id) != 0)
		return -1;
	const char *data = DB_VALUE(r, &stmt_tenant_part, 0, NULL);
	if (data == NULL || db_switch_tenant(r, 0) != 0)
		return -1;

	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	*file = arena_printf(r->arena, "%s-%s-%s.json", slug, tid, stamp);
	return write_export(r, *file, platform, data);
}

int
tenants_drop(struct req *r, int64_t tenant_id)
{
	const char *tid = req_i64(r, tenant_id);

	if (DB_EXEC(r, &stmt_delete_rows, 0, tid) == NULL ||
	    DB_EXEC(r, &stmt_drop_schema, 0, tid) == NULL)
		return -1;
	return 0;
}
