/* Idempotency-Key on POST (API.md): the same key from the same caller within
 * 24 h gets the first answer again and changes nothing. Keys live in Redis,
 * scoped to the caller (member, operator or anonymous) and the path, with a
 * hash of the body so that a key reused for another request is refused and
 * an answer is only ever replayed to whoever sends the very same request.
 * Answers that carry credentials (ROUTE_CREDENTIALS) are never stored. */
#ifndef CRM_IDEMPOTENCY_H
#define CRM_IDEMPOTENCY_H

#include "req.h"

/* Claims the key for this request. Returns 0 to go on with the handler, 1
 * when the request was answered here (a replay, or a refusal: the key is in
 * use or was used with another body), -1 with r->err set. */
int idempotency_begin(struct req *r, const char *key);
/* Records the answer for later replays (5xx answers free the key instead,
 * so a retry runs again). */
void idempotency_end(struct req *r);

#endif
