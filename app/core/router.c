/* Route matching over the modules' tables; see router.h. */
#include "router.h"

#include <string.h>

#define SEGMENT_MAX 256

bool
router_path_matches(struct req *r, const char *pattern, const char *path)
{
	r->nparams = 0;
	while (*pattern != '\0' && *path != '\0') {
		if (*pattern == '{') {
			const char *close = strchr(pattern, '}');
			size_t seg = strcspn(path, "/");

			if (close == NULL || seg == 0 || seg > SEGMENT_MAX ||
			    r->nparams == REQ_MAX_PARAMS)
				return false;
			r->param_names[r->nparams] = arena_strndup(r->arena,
			    pattern + 1, (size_t)(close - pattern - 1));
			r->param_values[r->nparams++] = arena_strndup(r->arena,
			    path, seg);
			pattern = close + 1;
			path += seg;
			continue;
		}
		if (*pattern != *path)
			return false;
		pattern++;
		path++;
	}
	return *pattern == '\0' && *path == '\0';
}

int
router_match(struct req *r, const struct module *const *mods)
{
	struct buf allow;
	bool path_known = false;

	buf_init(&allow, r->arena);
	for (int m = 0; mods[m] != NULL; m++) {
		for (const struct route *rt = mods[m]->routes; rt->method != NULL; rt++) {
			if (!router_path_matches(r, rt->path, r->path))
				continue;
			if (strcmp(rt->method, r->method) == 0) {
				r->route = rt;
				return 0;
			}
			if (path_known)
				buf_adds(&allow, ", ");
			buf_adds(&allow, rt->method);
			path_known = true;
		}
	}
	r->nparams = 0;
	if (!path_known)
		return err_set(&r->err, ERR_NOT_FOUND, NULL);
	req_header(r, "Allow", buf_cstr(&allow));
	return err_set(&r->err, ERR_METHOD_NOT_ALLOWED, NULL);
}
