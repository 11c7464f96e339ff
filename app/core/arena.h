/* Per-request arena: bump allocation in chunks, released all at once.
 * Foreign objects (PGresult, cJSON, redisReply) register a cleanup instead of
 * being freed by hand. Allocation failure aborts: the supervisor restarts us. */
#ifndef CRM_ARENA_H
#define CRM_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena_chunk;
struct arena_cleanup;

struct arena {
	struct arena_chunk *chunk;	/* current chunk; older ones chained */
	struct arena_cleanup *cleanups;	/* run in reverse order of adding */
};

void arena_init(struct arena *a);
/* Runs the cleanups and frees every chunk but the first, ready for reuse. */
void arena_reset(struct arena *a);
/* Like arena_reset, and frees the first chunk too. */
void arena_free(struct arena *a);

void *arena_alloc(struct arena *a, size_t size);	/* zeroed, 16-byte aligned */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap);
/* fn(ptr) runs at the next reset. */
void arena_cleanup(struct arena *a, void (*fn)(void *), void *ptr);

/* A growable byte buffer living in an arena. */
struct buf {
	struct arena *arena;
	char *data;
	size_t len, cap;
};

void buf_init(struct buf *b, struct arena *a);
void buf_add(struct buf *b, const char *s, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included. */
void buf_add_json_str(struct buf *b, const char *s);
const char *buf_cstr(struct buf *b);	/* NUL-terminated view */

#endif
