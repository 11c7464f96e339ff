/* Fixed-window counters in Redis (login failures, sign-ups per address). */
#ifndef CRM_RATELIMIT_H
#define CRM_RATELIMIT_H

#include "req.h"

/* Fails with ERR_RATE_LIMITED and a Retry-After header when key has reached
 * limit in its current window. */
int ratelimit_check(struct req *r, const char *key, int limit);
/* Counts one event in key's window of window_seconds. */
int ratelimit_count(struct req *r, const char *key, int window_seconds);

#endif
