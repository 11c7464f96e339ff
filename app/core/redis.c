/* Redis access; see redis.h. */
#include "redis.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static redisContext *ctx;
static const char *redis_url = "redis://127.0.0.1:6379";

void
redis_set_url(const char *url)
{
	redis_url = url;
	redis_disconnect();
}

void
redis_disconnect(void)
{
	if (ctx != NULL)
		redisFree(ctx);
	ctx = NULL;
}

static redisContext *
connect_url(void)
{
	struct timeval timeout = {.tv_sec = 2};

	if (strncmp(redis_url, "unix://", 7) == 0)
		return redisConnectUnixWithTimeout(redis_url + 7, timeout);
	const char *hostport = redis_url;
	if (strncmp(hostport, "redis://", 8) == 0)
		hostport += 8;
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t len = colon != NULL ? (size_t)(colon - hostport) : strlen(hostport);
	if (len >= sizeof(host))
		len = sizeof(host) - 1;
	memcpy(host, hostport, len);
	host[len] = '\0';
	return redisConnectWithTimeout(host, colon != NULL ? atoi(colon + 1) : 6379,
	    timeout);
}

/* While idle Redis sends nothing; readable means it closed on us. */
static bool
connection_lost(void)
{
	struct pollfd p = {.fd = ctx->fd, .events = POLLIN};

	return ctx->err != 0 || poll(&p, 1, 0) != 0;
}

static int
ensure_connection(struct err *e)
{
	if (ctx != NULL && !connection_lost())
		return 0;
	redis_disconnect();
	ctx = connect_url();
	if (ctx == NULL || ctx->err != 0) {
		log_warn("redis connection failed: %s", ctx != NULL ? ctx->errstr : "no memory");
		redis_disconnect();
		return err_set(e, ERR_REDIS_UNAVAILABLE, NULL);
	}
	struct timeval timeout = {.tv_sec = 5};
	redisSetTimeout(ctx, timeout);
	return 0;
}

static void
free_reply(void *reply)
{
	freeReplyObject(reply);
}

int
redis_pipeline(struct req *r, int n, const struct redis_cmd *cmds,
    redisReply **replies)
{
	if (ensure_connection(&r->err) != 0)
		return -1;
	for (int i = 0; i < n; i++)
		redisAppendCommandArgv(ctx, cmds[i].argc, cmds[i].argv, NULL);
	int failed = 0;
	for (int i = 0; i < n; i++) {
		void *reply = NULL;

		if (redisGetReply(ctx, &reply) != REDIS_OK) {
			log_warn("redis connection lost: %s", ctx->errstr);
			redis_disconnect();
			return err_set(&r->err, ERR_REDIS_UNAVAILABLE, NULL);
		}
		arena_cleanup(r->arena, free_reply, reply);
		replies[i] = reply;
		if (replies[i]->type == REDIS_REPLY_ERROR && !failed) {
			log_error("redis error: %s", replies[i]->str);
			failed = err_set(&r->err, ERR_INTERNAL, NULL);
		}
	}
	return failed;
}

redisReply *
redis_argv(struct req *r, int argc, const char **argv)
{
	struct redis_cmd cmd = {argc, argv};
	redisReply *reply;

	return redis_pipeline(r, 1, &cmd, &reply) == 0 ? reply : NULL;
}

int
redis_ping(void)
{
	struct arena a;
	struct req r;

	arena_init(&a);
	req_init(&r, &a);
	int rc = REDIS(&r, "PING") != NULL ? 0 : -1;
	arena_free(&a);
	return rc;
}
