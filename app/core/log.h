/* Logging to stderr: one line per event, prefixed with time, level, the
 * request id and tenant of the request at hand (each process serves one
 * request at a time). The macros test the level before formatting. */
#ifndef CRM_LOG_H
#define CRM_LOG_H

#include "err.h"

extern enum log_level log_min_level;

void log_set_level(const char *name);
/* The request context printed on each line; NULL clears it. */
void log_set_context(const char *request_id, long long tenant_id);
void log_write(enum log_level level, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define LOG_AT(lvl, ...)						\
	do {								\
		if ((lvl) >= log_min_level)				\
			log_write((lvl), __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_WARN, __VA_ARGS__)
#define log_error(...) LOG_AT(LOG_ERROR, __VA_ARGS__)

#endif
