/* Shared by the cmocka unit tests: the includes cmocka wants, in its order,
 * and a fixture holding an arena and a request, made fresh for each test. */
#ifndef CRM_TEST_HELPERS_H
#define CRM_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/core/arena.h"
#include "app/core/req.h"

struct fixture {
	struct arena arena;
	struct req req;
};

static inline int
fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	arena_init(&f->arena);
	req_init(&f->req, &f->arena);
	*state = f;
	return 0;
}

static inline int
fixture_teardown(void **state)
{
	struct fixture *f = *state;

	arena_free(&f->arena);
	free(f);
	return 0;
}

/* The request of the test's fixture. */
static inline struct req *
fixture_req(void **state)
{
	return &((struct fixture *)*state)->req;
}

/* A test that gets a fresh arena and request. */
#define FIXTURE_TEST(fn) \
	cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

/* Whether r->err holds a field error name: reason. */
static inline int
has_field_error(const struct req *r, const char *name, const char *reason)
{
	for (int i = 0; i < r->err.nfields; i++)
		if (strcmp(r->err.fields[i].name, name) == 0 &&
		    strcmp(r->err.fields[i].reason, reason) == 0)
			return 1;
	return 0;
}

#endif
