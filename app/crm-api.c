/* crm-api: the JSON API as pre-forked FastCGI workers (see app/core/server.h).
 * `crm-api --routes` prints the route table ("METHOD PATH" lines). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/core/auth.h"
#include "app/core/config.h"
#include "app/core/db.h"
#include "app/core/dispatch.h"
#include "app/core/log.h"
#include "app/core/module.h"
#include "app/core/redis.h"
#include "app/core/server.h"
#include "tenants/tenants.h"

static void
print_routes(void)
{
	for (int m = 0; modules[m] != NULL; m++)
		for (const struct route *rt = modules[m]->routes; rt->method != NULL; rt++)
			printf("%s %s\n", rt->method, rt->path);
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--routes") == 0) {
		print_routes();
		return 0;
	}
	if (config_load(1) != 0 || auth_init() != 0)
		return 1;
	db_set_conninfo(config.database_url);
	redis_set_url(config.redis_url);
	db_tenant_schema_version = tenants_latest_version();
	int fd = server_listen(config.socket_path);
	if (fd < 0)
		return 1;
	int rc = server_run(fd, config.workers, dispatch_request, argv);
	unlink(config.socket_path);
	return rc;
}
