/* JSON input: parsing a request body within limits, and field getters that
 * record their own validation errors so a handler's checks are one line each.
 * Output is built with struct buf (arena.h) or, for reads, by PostgreSQL. */
#ifndef CRM_JSON_H
#define CRM_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "req.h"

#define JSON_MAX_DEPTH 32
#define JSON_MAX_STRING (64 * 1024)	/* bytes, any string in a body */

/* Parses text as a JSON object within the limits above (depth, string sizes,
 * valid UTF-8). Returns the object (freed with the arena) or NULL with
 * ERR_INVALID_JSON in e. */
cJSON *json_parse_object(struct arena *a, struct err *e, const char *text,
    size_t len);

/* An empty object freed with the arena, for building small documents. */
cJSON *json_new_object(struct arena *a);
/* item as compact JSON text in the arena. */
const char *json_print(struct arena *a, const cJSON *item);

enum json_need { JSON_OPTIONAL, JSON_REQUIRED };

/* A string member of obj of min..max characters (code points), trimmed of
 * surrounding white space. Absent or null: returns NULL and records
 * `required` when needed. Wrong type or length: records the reason
 * and returns NULL. */
const char *json_get_str(struct req *r, const cJSON *obj, const char *key,
    enum json_need need, int min, int max);
/* A password: 8..256 characters, taken as it is (not trimmed). */
const char *json_get_password(struct req *r, const cJSON *obj, const char *key,
    enum json_need need);
/* Like json_get_str, lower-cased, and checked as an e-mail address. */
const char *json_get_email(struct req *r, const cJSON *obj, const char *key,
    enum json_need need);
/* A string that must be one of the NULL-terminated choices. */
const char *json_get_enum(struct req *r, const cJSON *obj, const char *key,
    enum json_need need, const char *const *choices);
/* An integer member; *present tells whether it was there (null counts as
 * present with *is_null). Returns -1 on a recorded error. */
int json_get_id(struct req *r, const cJSON *obj, const char *key,
    int64_t *out, bool *present, bool *is_null);

/* True when validation recorded any field error. */
bool json_invalid(const struct req *r);

/* Helpers shared with the validators. */
size_t utf8_length(const char *s);	/* code points; (size_t)-1 if invalid */
bool email_valid(const char *s);

#endif
