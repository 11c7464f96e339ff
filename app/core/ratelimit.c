/* Fixed-window rate counters; see ratelimit.h. */
#include "ratelimit.h"

#include <stdlib.h>

#include "redis.h"

int
ratelimit_check(struct req *r, const char *key, int limit)
{
	const struct redis_cmd cmds[] = {
		{2, (const char *[]){"GET", key}},
		{2, (const char *[]){"TTL", key}},
	};
	redisReply *rep[2];

	if (redis_pipeline(r, 2, cmds, rep) != 0)
		return -1;
	if (rep[0]->type != REDIS_REPLY_STRING || atoll(rep[0]->str) < limit)
		return 0;
	long long wait = rep[1]->type == REDIS_REPLY_INTEGER && rep[1]->integer > 0 ?
	    rep[1]->integer : 1;
	req_header(r, "Retry-After", req_i64(r, wait));
	return err_set(&r->err, ERR_RATE_LIMITED, NULL);
}

int
ratelimit_count(struct req *r, const char *key, int window_seconds)
{
	const struct redis_cmd cmds[] = {
		{2, (const char *[]){"INCR", key}},
		{4, (const char *[]){"EXPIRE", key, req_i64(r, window_seconds), "NX"}},
	};
	redisReply *rep[2];

	return redis_pipeline(r, 2, cmds, rep);
}
