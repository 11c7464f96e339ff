/* crm-worker: the background worker. For now it proves it is alive: a
 * heartbeat key in Redis every 10 s (TTL 30 s), until SIGTERM. Jobs and
 * timers (rows in PostgreSQL) come with the automation work. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "app/core/config.h"
#include "app/core/db.h"
#include "app/core/log.h"
#include "app/core/redis.h"

static volatile sig_atomic_t stopping;

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
	while (!stopping) {
		heartbeat(&arena);
		for (int i = 0; i < 10 && !stopping; i++)
			sleep(1);
	}
	log_info("crm-worker stopped");
	redis_disconnect();
	db_disconnect();
	arena_free(&arena);
	return 0;
}
