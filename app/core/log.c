/* Logging; see log.h. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum log_level log_min_level = LOG_INFO;

static char ctx_request_id[64] = "-";
static long long ctx_tenant_id;
static pid_t cached_pid;	/* getpid() is a system call; reset in a child */

static void
forget_pid(void)
{
	cached_pid = 0;
}

static pid_t
my_pid(void)
{
	static bool registered;

	if (!registered) {
		pthread_atfork(NULL, NULL, forget_pid);
		registered = true;
	}
	if (cached_pid == 0)
		cached_pid = getpid();
	return cached_pid;
}

void
log_set_level(const char *name)
{
	static const char *names[] = {"debug", "info", "warn", "error"};

	for (int i = 0; i < 4; i++) {
		if (name != NULL && strcmp(name, names[i]) == 0) {
			log_min_level = (enum log_level)i;
			return;
		}
	}
	log_warn("unknown log level '%s'; keeping %s", name != NULL ? name : "",
	    names[log_min_level]);
}

void
log_set_context(const char *request_id, long long tenant_id)
{
	snprintf(ctx_request_id, sizeof(ctx_request_id), "%s",
	    request_id != NULL ? request_id : "-");
	ctx_tenant_id = tenant_id;
}

void
log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
	char msg[2048], stamp[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level >= LOG_WARN || log_min_level == LOG_DEBUG)
		fprintf(stderr, "%s.%03dZ %s pid=%d rid=%s tenant=%lld %s (%s:%d)\n",
		    stamp, (int)(tv.tv_usec / 1000), names[level], (int)my_pid(),
		    ctx_request_id, ctx_tenant_id, msg, file, line);
	else
		fprintf(stderr, "%s.%03dZ %s pid=%d rid=%s tenant=%lld %s\n",
		    stamp, (int)(tv.tv_usec / 1000), names[level], (int)my_pid(),
		    ctx_request_id, ctx_tenant_id, msg);
}
