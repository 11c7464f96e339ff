/* How a feature module declares itself to the host: a static route table.
 * The host knows modules only through `struct module` (app/modules/modules.c). */
#ifndef CRM_MODULE_H
#define CRM_MODULE_H

#include <stddef.h>

struct req;
struct call;

enum route_auth {
	AUTH_NONE,	/* anyone */
	AUTH_TENANT,	/* a tenant access token with a live session */
	AUTH_PLATFORM,	/* an operator access token with a live session */
};

enum route_flags {
	ROUTE_JSON_BODY = 1 << 0,	/* the body must be a JSON object */
	/* the answer carries credentials: never stored for Idempotency-Key
	 * replays (Redis holds only hashes of tokens) */
	ROUTE_CREDENTIALS = 1 << 1,
	/* the body is a file (CSV, multipart) of up to REQ_MAX_UPLOAD bytes,
	 * read as it is into r->body */
	ROUTE_UPLOAD = 1 << 2,
};

struct route {
	const char *method;
	const char *path;	/* segments in braces capture: /members/{id} */
	int (*handler)(struct req *r);
	enum route_auth auth;
	const char *permission;	/* tenant permission key, "a|b" for any of them, or NULL */
	unsigned flags;
	struct call *call;	/* for handler call_handler: the SQL call (call.h) */
};

struct module {
	const char *name;
	const struct route *routes;	/* ends with a route whose method is NULL */
};

extern const struct module *const modules[];	/* NULL-terminated */

#endif
