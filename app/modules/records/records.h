/* The record objects' handlers that are more than one SQL call. */
#ifndef CRM_RECORDS_H
#define CRM_RECORDS_H

struct req;

/* GET /api/v1/<object>/export: the list query as CSV, every page (export.c). */
int records_export(struct req *r);

#endif
