/* Sessions in Redis; see session.h. */
#include "session.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis.h"

/* Compares the presented refresh-token hash with the stored one: rotates it
 * and answers {1, uid, tid, role}, or, when they differ (a reused or forged
 * token), deletes the session and answers {-1, uid, tid}. 0: no session.
 * It touches only KEYS[1], so it also runs on Redis Cluster. */
static const char rotate_script[] =
    "local h = redis.call('HGET', KEYS[1], 'rt')\n"
    "if not h then return 0 end\n"
    "local f = redis.call('HMGET', KEYS[1], 'uid', 'tid', 'role')\n"
    "if h ~= ARGV[1] then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  return {-1, f[1], f[2]}\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'rt', ARGV[2], 'last', ARGV[3])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[4])\n"
    "return {1, f[1], f[2], f[3]}\n";

static const char *
session_key(struct req *r, const char *sid)
{
	return arena_printf(r->arena, "sess:%s", sid);
}

static const char *
user_key(struct req *r, int64_t tenant_id, int64_t user_id)
{
	return arena_printf(r->arena, "usess:%" PRId64 ":%" PRId64, tenant_id,
	    user_id);
}

static const char *
now_str(struct req *r)
{
	return req_i64(r, (int64_t)time(NULL));
}

/* A fresh refresh secret for sid: the token to hand out and its hash. */
static void
new_refresh(struct req *r, const char *sid, const char **token, const char **hash)
{
	const char *secret = auth_random_token(r->arena, 32);

	*token = arena_printf(r->arena, "%s.%s", sid, secret);
	*hash = auth_sha256_hex(r->arena, secret);
}

int
session_create(struct req *r, int64_t tenant_id, int64_t user_id,
    const char *role, struct session *out)
{
	const char *sid = auth_random_token(r->arena, 18), *hash;
	const char *key = session_key(r, sid), *ukey = user_key(r, tenant_id, user_id);
	const char *ttl = req_i64(r, SESSION_TTL), *now = now_str(r);

	new_refresh(r, sid, &out->refresh_token, &hash);
	const struct redis_cmd cmds[] = {
		{18, (const char *[]){"HSET", key, "uid", req_i64(r, user_id),
		    "tid", req_i64(r, tenant_id), "role", role, "rt", hash,
		    "created", now, "last", now,
		    "ip", r->client_ip != NULL ? r->client_ip : "",
		    "ua", r->user_agent != NULL ? arena_strndup(r->arena,
		    r->user_agent, strnlen(r->user_agent, 256)) : ""}},
		{3, (const char *[]){"EXPIRE", key, ttl}},
		{3, (const char *[]){"SADD", ukey, sid}},
		{3, (const char *[]){"EXPIRE", ukey, ttl}},
	};
	redisReply *replies[4];
	if (redis_pipeline(r, 4, cmds, replies) != 0)
		return -1;
	out->id = sid;
	out->user_id = user_id;
	out->tenant_id = tenant_id;
	out->role = role;
	return 0;
}

int
session_check(struct req *r, const struct token_claims *c)
{
	redisReply *rep = REDIS(r, "HMGET", session_key(r, c->sid), "uid", "tid",
	    "role");

	if (rep == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_STRING ||
	    rep->element[2]->type != REDIS_REPLY_STRING ||
	    strtoll(rep->element[0]->str, NULL, 10) != c->sub ||
	    strtoll(rep->element[1]->str, NULL, 10) != c->tid)
		return err_set(&r->err, ERR_UNAUTHORIZED, "The session has ended.");
	r->id.kind = c->tid > 0 ? ID_MEMBER : ID_OPERATOR;
	r->id.user_id = c->sub;
	r->id.tenant_id = c->tid;
	r->id.session_id = c->sid;
	r->id.role = arena_strdup(r->arena, rep->element[2]->str);
	r->id.expires_at = c->exp;
	return 0;
}

/* The session id of a refresh token "<sid>.<secret>", or NULL. */
static const char *
refresh_session_id(struct req *r, const char *refresh_token)
{
	const char *dot = strchr(refresh_token, '.');

	if (dot == NULL || dot == refresh_token || dot - refresh_token > 64)
		return NULL;
	return arena_strndup(r->arena, refresh_token, (size_t)(dot - refresh_token));
}

int
session_peek(struct req *r, const char *refresh_token, struct session *out)
{
	const char *sid = refresh_session_id(r, refresh_token);

	if (sid == NULL)
		return err_set(&r->err, ERR_INVALID_REFRESH_TOKEN, NULL);
	redisReply *rep = REDIS(r, "HMGET", session_key(r, sid), "uid", "tid", "role");
	if (rep == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_STRING ||
	    rep->element[2]->type != REDIS_REPLY_STRING)
		return err_set(&r->err, ERR_INVALID_REFRESH_TOKEN, NULL);
	out->id = sid;
	out->user_id = strtoll(rep->element[0]->str, NULL, 10);
	out->tenant_id = strtoll(rep->element[1]->str, NULL, 10);
	out->role = arena_strdup(r->arena, rep->element[2]->str);
	out->refresh_token = NULL;
	return 0;
}

static int64_t
reply_int(const redisReply *rep)
{
	return rep->type == REDIS_REPLY_INTEGER ? rep->integer :
	    rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10) : 0;
}

int
session_rotate(struct req *r, const char *refresh_token, struct session *out)
{
	const char *sid = refresh_session_id(r, refresh_token), *hash;

	if (sid == NULL)
		return err_set(&r->err, ERR_INVALID_REFRESH_TOKEN, NULL);
	const char *presented = auth_sha256_hex(r->arena, strchr(refresh_token, '.') + 1);
	new_refresh(r, sid, &out->refresh_token, &hash);
	redisReply *rep = REDIS(r, "EVAL", rotate_script, "1", session_key(r, sid),
	    presented, hash, now_str(r), req_i64(r, SESSION_TTL));
	if (rep == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3)
		return err_set(&r->err, ERR_INVALID_REFRESH_TOKEN, NULL);
	out->id = sid;
	out->user_id = reply_int(rep->element[1]);
	out->tenant_id = reply_int(rep->element[2]);
	if (reply_int(rep->element[0]) != 1) {
		/* Reuse: the session is gone; drop it from the user's set too. */
		REDIS(r, "SREM", user_key(r, out->tenant_id, out->user_id), sid);
		return err_set(&r->err, ERR_INVALID_REFRESH_TOKEN,
		    "This refresh token was already used; the session has ended.");
	}
	out->role = arena_strdup(r->arena, rep->element[3]->str);
	return 0;
}

int
session_end(struct req *r, int64_t tenant_id, int64_t user_id,
    const char *session_id)
{
	const char *ukey = user_key(r, tenant_id, user_id);
	redisReply *rep = REDIS(r, "SREM", ukey, session_id);

	if (rep == NULL)
		return -1;
	if (rep->integer != 1)
		return err_set(&r->err, ERR_NOT_FOUND, NULL);
	return REDIS(r, "DEL", session_key(r, session_id)) != NULL ? 0 : -1;
}

/* The ids in the user's set (some may have expired). */
static redisReply *
user_sessions(struct req *r, int64_t tenant_id, int64_t user_id)
{
	redisReply *rep = REDIS(r, "SMEMBERS", user_key(r, tenant_id, user_id));

	if (rep != NULL && rep->type != REDIS_REPLY_ARRAY) {
		err_set(&r->err, ERR_INTERNAL, NULL);
		return NULL;
	}
	return rep;
}

int
session_end_all(struct req *r, int64_t tenant_id, int64_t user_id,
    const char *keep_id)
{
	redisReply *ids = user_sessions(r, tenant_id, user_id);

	if (ids == NULL)
		return -1;
	for (size_t i = 0; i < ids->elements; i++) {
		const char *sid = ids->element[i]->str;

		if (keep_id != NULL && strcmp(sid, keep_id) == 0)
			continue;
		if (session_end(r, tenant_id, user_id, sid) != 0 &&
		    r->err.code != ERR_NOT_FOUND)
			return -1;
		r->err.code = ERR_NONE;
	}
	return 0;
}

int
session_set_role(struct req *r, int64_t tenant_id, int64_t user_id,
    const char *role)
{
	redisReply *ids = user_sessions(r, tenant_id, user_id);

	if (ids == NULL)
		return -1;
	for (size_t i = 0; i < ids->elements; i++) {
		const char *key = session_key(r, ids->element[i]->str);

		redisReply *exists = REDIS(r, "EXISTS", key);

		if (exists == NULL)
			return -1;
		/* Only live sessions: HSET on an expired one would revive it. */
		if (exists->integer == 0)
			continue;
		if (REDIS(r, "HSET", key, "role", role) == NULL)
			return -1;
	}
	return 0;
}

static const char *
iso_time(struct req *r, const char *unix_seconds)
{
	time_t t = (time_t)strtoll(unix_seconds, NULL, 10);
	struct tm tm;
	char *out = arena_alloc(r->arena, 32);

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}

const char *
session_list_json(struct req *r, int64_t tenant_id, int64_t user_id,
    const char *current_id)
{
	redisReply *ids = user_sessions(r, tenant_id, user_id);
	struct buf b;
	int shown = 0;

	if (ids == NULL)
		return NULL;
	buf_init(&b, r->arena);
	buf_adds(&b, "{\"data\":[");
	for (size_t i = 0; i < ids->elements; i++) {
		const char *sid = ids->element[i]->str;
		redisReply *f = REDIS(r, "HMGET", session_key(r, sid), "created",
		    "last", "ip", "ua");

		if (f == NULL)
			return NULL;
		if (f->type != REDIS_REPLY_ARRAY || f->elements != 4 ||
		    f->element[0]->type != REDIS_REPLY_STRING)
			continue;	/* expired: its id lingers in the set */
		buf_adds(&b, shown++ ? ",{\"id\":" : "{\"id\":");
		buf_add_json_str(&b, sid);
		buf_addf(&b, ",\"created_at\":\"%s\",\"last_used_at\":\"%s\",\"ip\":",
		    iso_time(r, f->element[0]->str), iso_time(r, f->element[1]->str));
		buf_add_json_str(&b, f->element[2]->str != NULL ? f->element[2]->str : "");
		buf_adds(&b, ",\"user_agent\":");
		buf_add_json_str(&b, f->element[3]->str != NULL ? f->element[3]->str : "");
		buf_addf(&b, ",\"current\":%s}", current_id != NULL &&
		    strcmp(sid, current_id) == 0 ? "true" : "false");
	}
	buf_adds(&b, "]}");
	return buf_cstr(&b);
}
