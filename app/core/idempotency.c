/* Idempotency keys in Redis; see idempotency.h. The value is "pending" while
 * the first request runs, then "<body hash> <status> <answer>". */
#include "idempotency.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "redis.h"

#define KEY_TTL "86400"
#define PENDING_TTL "120"	/* a worker killed mid-request frees its key soon */
#define KEY_MAX 128

static bool
key_valid(const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > KEY_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		if (*p <= ' ' || *p > '~')
			return false;
	return true;
}

static const char *
body_hash(struct req *r)
{
	return auth_sha256_hex(r->arena, r->body != NULL ? r->body : "");
}

/* Answers a stored "<hash> <status> <body>" value. */
static int
replay(struct req *r, const char *stored)
{
	const char *hash = body_hash(r);
	size_t hash_len = strlen(hash);

	if (strncmp(stored, hash, hash_len) != 0 || stored[hash_len] != ' ')
		return err_set(&r->err, ERR_CONFLICT,
		    "This Idempotency-Key was used for another request.");
	char *end;
	long status = strtol(stored + hash_len + 1, &end, 10);
	req_header(r, "Idempotent-Replayed", "true");
	r->idempotency_key = NULL;	/* nothing to record after a replay */
	return req_replay(r, (int)status, *end == ' ' ? end + 1 : "");
}

int
idempotency_begin(struct req *r, const char *key)
{
	if (!key_valid(key))
		return err_set(&r->err, ERR_BAD_REQUEST, "The Idempotency-Key header is not valid.");
	const char *rkey = arena_printf(r->arena, "idem:%d:%" PRId64 ":%" PRId64 ":%s:%s",
	    (int)r->id.kind, r->id.tenant_id, r->id.user_id, r->path, key);
	redisReply *set = REDIS(r, "SET", rkey, "pending", "NX", "EX", PENDING_TTL);
	if (set == NULL)
		return -1;
	if (set->type == REDIS_REPLY_STATUS) {	/* OK: ours to run */
		r->idempotency_key = rkey;
		return 0;
	}
	redisReply *got = REDIS(r, "GET", rkey);
	if (got == NULL)
		return -1;
	if (got->type != REDIS_REPLY_STRING || strcmp(got->str, "pending") == 0)
		return err_set(&r->err, ERR_CONFLICT,
		    "A request with this Idempotency-Key is still running.");
	return replay(r, got->str) == 0 ? 1 : -1;
}

void
idempotency_end(struct req *r)
{
	struct err saved = r->err;

	if (r->idempotency_key == NULL)
		return;
	if (r->status >= 500)
		REDIS(r, "DEL", r->idempotency_key);
	else
		REDIS(r, "SET", r->idempotency_key, arena_printf(r->arena, "%s %d %s",
		    body_hash(r), r->status, r->response_body != NULL ?
		    r->response_body : ""), "EX", KEY_TTL);
	r->err = saved;
}
