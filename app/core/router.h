/* Matching a request to a route of the modules' static tables. */
#ifndef CRM_ROUTER_H
#define CRM_ROUTER_H

#include "module.h"
#include "req.h"

/* Finds the route for r->method and r->path among modules and fills r->route
 * and r->params. Returns 0, or -1 with ERR_NOT_FOUND, or with
 * ERR_METHOD_NOT_ALLOWED and an Allow header added when the path exists for
 * other methods. */
int router_match(struct req *r, const struct module *const *mods);

/* Matches one pattern; fills r's params on success. Exposed for tests. */
bool router_path_matches(struct req *r, const char *pattern, const char *path);

#endif
