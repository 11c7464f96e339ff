/* JSON parsing within limits and validating getters; see json.h. */
#include "json.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void
free_json(void *p)
{
	cJSON_Delete(p);
}

/* The length of the UTF-8 sequence starting with lead byte c, and the range
 * its second byte must fall in (which excludes overlong forms, surrogates
 * and code points above U+10FFFF); 0 for a byte that cannot lead. */
static int
utf8_sequence(unsigned char c, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80;
	*hi = 0xBF;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return 2;
	if (c >= 0xE0 && c <= 0xEF) {
		if (c == 0xE0)
			*lo = 0xA0;
		else if (c == 0xED)
			*hi = 0x9F;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (c == 0xF0)
			*lo = 0x90;
		else if (c == 0xF4)
			*hi = 0x8F;
		return 4;
	}
	return 0;
}

size_t
utf8_length(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	while (*p) {
		unsigned char lo, hi;
		int len = utf8_sequence(*p, &lo, &hi);

		if (len == 0 || (len > 1 && (p[1] < lo || p[1] > hi)))
			return (size_t)-1;
		for (int i = 2; i < len; i++)
			if ((p[i] & 0xC0) != 0x80)
				return (size_t)-1;
		p += len;
		n++;
	}
	return n;
}

/* Walks a list of members at the given depth: containers deeper than the
 * limit, oversized strings and keys, and invalid UTF-8 are refused. */
static bool
within_limits(const cJSON *item, int depth)
{
	for (; item != NULL; item = item->next) {
		if (item->string != NULL && (strlen(item->string) > 256 ||
		    utf8_length(item->string) == (size_t)-1))
			return false;
		if (cJSON_IsString(item) && (strlen(item->valuestring) > JSON_MAX_STRING ||
		    utf8_length(item->valuestring) == (size_t)-1))
			return false;
		if ((cJSON_IsArray(item) || cJSON_IsObject(item)) &&
		    (depth > JSON_MAX_DEPTH || !within_limits(item->child, depth + 1)))
			return false;
	}
	return true;
}

/* A \u0000 escape would end the C string cJSON hands us: such text is
 * refused rather than stored cut short. */
static bool
has_nul_escape(const char *text, size_t len)
{
	for (size_t i = 0; i + 6 <= len; i++) {
		if (text[i] != '\\' || strncasecmp(text + i + 1, "u0000", 5) != 0)
			continue;
		size_t backslashes = 1;	/* an odd run makes this one an escape */
		while (backslashes <= i && text[i - backslashes] == '\\')
			backslashes++;
		if (backslashes % 2 == 1)
			return true;
	}
	return false;
}

cJSON *
json_parse_object(struct arena *a, struct err *e, const char *text, size_t len)
{
	const char *end = NULL;

	if (has_nul_escape(text, len)) {
		err_set(e, ERR_INVALID_JSON, "Text may not contain the NUL character.");
		return NULL;
	}
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);

	if (root == NULL) {
		err_set(e, ERR_INVALID_JSON, NULL);
		return NULL;
	}
	arena_cleanup(a, free_json, root);
	/* Only white space may follow the value. */
	while (end != NULL && end < text + len && isspace((unsigned char)*end))
		end++;
	if (!cJSON_IsObject(root) || (end != NULL && end != text + len) ||
	    !within_limits(root->child, 2)) {
		err_set(e, ERR_INVALID_JSON, NULL);
		return NULL;
	}
	return root;
}

bool
json_invalid(const struct req *r)
{
	return r->err.code != ERR_NONE;
}

/* The member, or NULL when absent; records `required` when needed. */
static const cJSON *
member(struct req *r, const cJSON *obj, const char *key, enum json_need need)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (item == NULL || cJSON_IsNull(item)) {
		if (need == JSON_REQUIRED)
			err_field(&r->err, key, "required");
		return NULL;
	}
	return item;
}

static const char *
get_string(struct req *r, const cJSON *obj, const char *key,
    enum json_need need, int min, int max, bool trim)
{
	const cJSON *item = member(r, obj, key, need);

	if (item == NULL)
		return NULL;
	if (!cJSON_IsString(item)) {
		err_field(&r->err, key, "invalid_type");
		return NULL;
	}
	const char *s = item->valuestring;
	while (trim && isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (trim && n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	char *v = arena_strndup(r->arena, s, n);
	size_t chars = utf8_length(v);
	if (chars < (size_t)min) {
		err_field(&r->err, key, n == 0 && need == JSON_REQUIRED ?
		    "required" : "too_short");
		return NULL;
	}
	if (chars > (size_t)max) {
		err_field(&r->err, key, "too_long");
		return NULL;
	}
	return v;
}

const char *
json_get_str(struct req *r, const cJSON *obj, const char *key,
    enum json_need need, int min, int max)
{
	return get_string(r, obj, key, need, min, max, true);
}

const char *
json_get_password(struct req *r, const cJSON *obj, const char *key,
    enum json_need need)
{
	return get_string(r, obj, key, need, 8, 256, false);
}

bool
email_valid(const char *s)
{
	const char *at = strchr(s, '@');

	if (at == NULL || at == s || strchr(at + 1, '@') != NULL)
		return false;
	const char *dot = strrchr(at, '.');
	if (dot == NULL || dot == at + 1 || dot[1] == '\0')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == '<' || *p == '>' || *p == '"' || *p == ',')
			return false;
	return strlen(s) <= 254;
}

const char *
json_get_email(struct req *r, const cJSON *obj, const char *key,
    enum json_need need)
{
	char *v = (char *)json_get_str(r, obj, key, need, 3, 254);

	if (v == NULL)
		return NULL;
	for (char *p = v; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!email_valid(v)) {
		err_field(&r->err, key, "invalid_format");
		return NULL;
	}
	return v;
}

const char *
json_get_enum(struct req *r, const cJSON *obj, const char *key,
    enum json_need need, const char *const *choices)
{
	const char *v = json_get_str(r, obj, key, need, 1, 64);

	if (v == NULL)
		return NULL;
	for (int i = 0; choices[i] != NULL; i++)
		if (strcmp(v, choices[i]) == 0)
			return choices[i];
	err_field(&r->err, key, "invalid_value");
	return NULL;
}

int
json_get_id(struct req *r, const cJSON *obj, const char *key, int64_t *out,
    bool *present, bool *is_null)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	*present = item != NULL;
	*is_null = item != NULL && cJSON_IsNull(item);
	*out = 0;
	if (item == NULL || *is_null)
		return 0;
	double d = item->valuedouble;
	if (!cJSON_IsNumber(item) || d < 1 || d > 9007199254740991.0 ||
	    d != (double)(int64_t)d)
		return err_field(&r->err, key, "invalid_type");
	*out = (int64_t)d;
	return 0;
}

cJSON *
json_new_object(struct arena *a)
{
	cJSON *obj = cJSON_CreateObject();

	if (obj == NULL)
		abort();
	arena_cleanup(a, free_json, obj);
	return obj;
}

const char *
json_print(struct arena *a, const cJSON *item)
{
	char *text = cJSON_PrintUnformatted(item);

	if (text == NULL)
		abort();
	const char *copy = arena_strdup(a, text);
	cJSON_free(text);
	return copy;
}
