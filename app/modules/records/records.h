/* Shared by the handlers of the record objects (records.c, export.c,
 * customers.c, catalog.c). */
#ifndef CRM_RECORDS_H
#define CRM_RECORDS_H

#include <stdint.h>

#include "app/core/req.h"

/* The object a record route serves: the path segment after /api/v1/
 * ("customers", "tasks"…), from the route table, so always a known one. */
const char *records_object(struct req *r);

/* The list query of the request (limit up to limit_max, cursor, sort, q,
 * filter[…]) as the JSON record_list takes. Records the error and returns
 * -1 on a malformed or oversized parameter. */
int records_list_params(struct req *r, int limit_max, const char **out);

/* The version a PATCH is made against: If-Match, else "version" in the
 * body. Records 400 (bad If-Match) or 422 (missing or bad version). */
int records_version_or_fail(struct req *r, int64_t *version);

#endif
