/* Redis access: one hiredis connection per process, reconnected on demand.
 * Replies are freed with the arena. A lost connection fills r->err with
 * ERR_REDIS_UNAVAILABLE; the next call reconnects. */
#ifndef CRM_REDIS_H
#define CRM_REDIS_H

#include <hiredis/hiredis.h>

#include "req.h"

/* `unix:///path/to.sock` or `redis://[:password@]host[:port][/db]`; the
 * password may instead come from CRM_REDIS_PASSWORD. */
void redis_set_url(const char *url);

/* Runs one command given as argv (NUL-terminated strings). Returns the reply
 * or NULL with r->err set; an error reply from Redis is ERR_INTERNAL. */
redisReply *redis_argv(struct req *r, int argc, const char **argv);

#define REDIS(r, ...)							\
	redis_argv((r), (int)(sizeof((const char *[]){__VA_ARGS__}) /	\
	    sizeof(const char *)), (const char *[]){__VA_ARGS__})

/* Runs several commands in one round trip (a pipeline); replies[i] answers
 * cmds[i]. Returns 0, or -1 with r->err set. */
struct redis_cmd {
	int argc;
	const char **argv;
};
int redis_pipeline(struct req *r, int n, const struct redis_cmd *cmds,
    redisReply **replies);

/* 0 when Redis answers PING now. */
int redis_ping(void);
void redis_disconnect(void);

#endif
