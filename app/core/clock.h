/* Monotonic time in milliseconds (vDSO: no system call). */
#ifndef CRM_CLOCK_H
#define CRM_CLOCK_H

#include <stdint.h>
#include <time.h>

/* A connection used this recently is not probed for a silent close: under
 * load that probe would cost a system call per request for nothing. */
#define CONNECTION_PROBE_AFTER_MS 1000

static inline int64_t
clock_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

#endif
