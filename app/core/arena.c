/* Per-request arena and string buffer; see arena.h. */
#include "arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_SIZE (64 * 1024)

struct arena_chunk {
	struct arena_chunk *prev;
	size_t used, size;
	_Alignas(16) unsigned char data[];
};

struct arena_cleanup {
	struct arena_cleanup *next;
	void (*fn)(void *);
	void *ptr;
};

static void *
xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL) {
		fputs("out of memory\n", stderr);
		abort();
	}
	return p;
}

static struct arena_chunk *
chunk_new(struct arena_chunk *prev, size_t size)
{
	struct arena_chunk *c = xmalloc(sizeof(*c) + size);

	c->prev = prev;
	c->used = 0;
	c->size = size;
	return c;
}

void
arena_init(struct arena *a)
{
	a->chunk = chunk_new(NULL, CHUNK_SIZE);
	a->cleanups = NULL;
}

static void
run_cleanups(struct arena *a)
{
	/* Cleanups live in the arena itself, so run them before freeing chunks. */
	for (struct arena_cleanup *c = a->cleanups; c != NULL; c = c->next)
		c->fn(c->ptr);
	a->cleanups = NULL;
}

void
arena_reset(struct arena *a)
{
	run_cleanups(a);
	while (a->chunk->prev != NULL) {
		struct arena_chunk *prev = a->chunk->prev;

		free(a->chunk);
		a->chunk = prev;
	}
	a->chunk->used = 0;
}

void
arena_free(struct arena *a)
{
	if (a->chunk == NULL)
		return;
	arena_reset(a);
	free(a->chunk);
	a->chunk = NULL;
}

void *
arena_alloc(struct arena *a, size_t size)
{
	size_t need = (size + 15) & ~(size_t)15;
	struct arena_chunk *c = a->chunk;

	if (c->size - c->used < need) {
		c = chunk_new(c, need > CHUNK_SIZE ? need : CHUNK_SIZE);
		a->chunk = c;
	}
	void *p = c->data + c->used;
	c->used += need;
	memset(p, 0, need);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list copy;

	va_copy(copy, ap);
	int n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	char *p = arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	char *p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

void
arena_cleanup(struct arena *a, void (*fn)(void *), void *ptr)
{
	struct arena_cleanup *c = arena_alloc(a, sizeof(*c));

	c->fn = fn;
	c->ptr = ptr;
	c->next = a->cleanups;
	a->cleanups = c;
}

void
buf_init(struct buf *b, struct arena *a)
{
	b->arena = a;
	b->cap = 256;
	b->len = 0;
	b->data = arena_alloc(a, b->cap);
}

static void
reserve(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap * 2;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *d = arena_alloc(b->arena, cap);
	memcpy(d, b->data, b->len);
	b->data = d;
	b->cap = cap;
}

void
buf_add(struct buf *b, const char *s, size_t n)
{
	reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	char *s = arena_vprintf(b->arena, fmt, ap);
	va_end(ap);
	buf_adds(b, s);
}

void
buf_add_json_str(struct buf *b, const char *s)
{
	buf_add(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];

		switch (*p) {
		case '"': buf_add(b, "\\\"", 2); break;
		case '\\': buf_add(b, "\\\\", 2); break;
		case '\n': buf_add(b, "\\n", 2); break;
		case '\r': buf_add(b, "\\r", 2); break;
		case '\t': buf_add(b, "\\t", 2); break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				buf_adds(b, esc);
			} else {
				buf_add(b, (const char *)p, 1);
			}
		}
	}
	buf_add(b, "\"", 1);
}

const char *
buf_cstr(struct buf *b)
{
	return b->data;
}
