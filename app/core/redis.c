/* Redis access; see redis.h. */
#include "redis.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
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

/* Where and how to reach Redis, from CRM_REDIS_URL:
 * unix:///path/redis.sock or redis://[:password@]host[:port][/db]; a
 * password may also come from CRM_REDIS_PASSWORD (kept out of the URL). */
struct redis_target {
	char host[256];
	const char *socket_path;
	int port, db;
	char password[256];
};

static void
parse_url(const char *url, struct redis_target *t)
{
	const char *env_password = getenv("CRM_REDIS_PASSWORD");

	memset(t, 0, sizeof(*t));
	t->port = 6379;
	snprintf(t->password, sizeof(t->password), "%s",
	    env_password != NULL ? env_password : "");
	if (strncmp(url, "unix://", 7) == 0) {
		t->socket_path = url + 7;
		return;
	}
	const char *p = strncmp(url, "redis://", 8) == 0 ? url + 8 : url;
	const char *at = strchr(p, '@');
	if (at != NULL) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *pw = colon != NULL ? colon + 1 : p;
		snprintf(t->password, sizeof(t->password), "%.*s", (int)(at - pw), pw);
		p = at + 1;
	}
	size_t host_len = strcspn(p, ":/");
	snprintf(t->host, sizeof(t->host), "%.*s", (int)host_len, p);
	p += host_len;
	if (*p == ':')
		t->port = atoi(++p);
	p += strcspn(p, "/");
	if (*p == '/')
		t->db = atoi(p + 1);
}

/* AUTH and SELECT as the target asks; 0 when Redis accepted them. */
static int
prepare_session(redisContext *c, const struct redis_target *t)
{
	redisReply *rep;
	int ok = 1;

	if (t->password[0] != '\0') {
		rep = redisCommand(c, "AUTH %s", t->password);
		ok = rep != NULL && rep->type != REDIS_REPLY_ERROR;
		freeReplyObject(rep);
	}
	if (ok && t->db != 0) {
		rep = redisCommand(c, "SELECT %d", t->db);
		ok = rep != NULL && rep->type != REDIS_REPLY_ERROR;
		freeReplyObject(rep);
	}
	return ok ? 0 : -1;
}

static redisContext *
connect_url(void)
{
	struct timeval timeout = {.tv_sec = 2};
	struct redis_target t;

	parse_url(redis_url, &t);
	redisContext *c = t.socket_path != NULL ?
	    redisConnectUnixWithTimeout(t.socket_path, timeout) :
	    redisConnectWithTimeout(t.host, t.port, timeout);
	if (c != NULL && c->err == 0 && prepare_session(c, &t) != 0) {
		c->err = REDIS_ERR_OTHER;
		snprintf(c->errstr, sizeof(c->errstr), "AUTH or SELECT refused");
	}
	return c;
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
	static int64_t last_used;
	int64_t now = clock_ms();
	bool idle = now - last_used > CONNECTION_PROBE_AFTER_MS;

	last_used = now;
	if (ctx != NULL && (!idle || !connection_lost()))
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
