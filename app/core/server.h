/* The process model of crm-api: a supervisor that pre-forks FastCGI workers
 * on one listening socket, restarts a worker that dies, replaces all workers
 * on SIGHUP (re-executing itself, so a new binary and configuration are
 * picked up without dropping the socket) and stops gracefully on SIGTERM:
 * a worker finishes the request at hand before it exits. */
#ifndef CRM_SERVER_H
#define CRM_SERVER_H

#include "arena.h"

typedef struct FCGX_Request FCGX_Request;

/* Serves one accepted request; the arena is reset afterwards. */
typedef void server_serve_fn(FCGX_Request *fr, struct arena *a);

/* The listening socket: inherited through CRM_LISTEN_FD after a re-exec,
 * else a new unix socket at path (mode 0666, replacing a stale file). */
int server_listen(const char *path);

/* Runs the supervisor until SIGTERM or SIGINT. argv is re-executed on SIGHUP. */
int server_run(int listen_fd, int workers, server_serve_fn *serve, char **argv);

#endif
