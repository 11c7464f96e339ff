/* Supervisor and worker loop; see server.h. */
#include "server.h"

#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "redis.h"

#define MAX_WORKERS 256
#define STOP_GRACE_SECONDS 10

static volatile sig_atomic_t got_term, got_hup, got_chld;

static void
on_signal(int sig)
{
	if (sig == SIGTERM || sig == SIGINT)
		got_term = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGCHLD)
		got_chld = 1;
}

/* A worker's SIGTERM: libfcgi retries an accept() interrupted by a signal
 * unless told that the process is shutting down. */
static void
on_worker_term(int sig)
{
	(void)sig;
	got_term = 1;
	FCGX_ShutdownPending();
}

/* No SA_RESTART: a signal must interrupt a blocking accept(). */
static void
catch_signal(int sig, void (*handler)(int))
{
	struct sigaction sa = {.sa_handler = handler};

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

int
server_listen(const char *path)
{
	const char *inherited = getenv("CRM_LISTEN_FD");

	FCGX_Init();
	if (inherited != NULL)
		return atoi(inherited);
	unlink(path);
	int fd = FCGX_OpenSocket(path, 1024);
	if (fd < 0) {
		log_error("cannot listen on %s", path);
		return -1;
	}
	/* nginx's workers run as another user. */
	chmod(path, 0666);
	return fd;
}

/* The worker: accept, serve, repeat. SIGTERM is blocked while a request is
 * served, so it only ever interrupts the wait for the next one. */
static void
worker_main(int listen_fd, server_serve_fn *serve)
{
	FCGX_Request fr;
	struct arena arena;
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	catch_signal(SIGTERM, on_worker_term);
	catch_signal(SIGINT, on_worker_term);
	arena_init(&arena);
	FCGX_InitRequest(&fr, listen_fd, 0);
	for (;;) {
		sigprocmask(SIG_UNBLOCK, &term, NULL);
		if (got_term)
			break;
		int rc = FCGX_Accept_r(&fr);
		sigprocmask(SIG_BLOCK, &term, NULL);
		if (rc < 0) {
			if (got_term)
				break;
			log_warn("accept failed: %d", rc);
			usleep(100 * 1000);
			continue;
		}
		serve(&fr, &arena);
		FCGX_Finish_r(&fr);
	}
	db_disconnect();
	redis_disconnect();
	arena_free(&arena);
	_exit(0);
}

struct pool {
	pid_t pids[MAX_WORKERS];
	time_t started[MAX_WORKERS];
	int n;
};

static void
spawn(struct pool *p, int slot, int listen_fd, server_serve_fn *serve)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_error("fork failed: %s", strerror(errno));
		p->pids[slot] = 0;
		return;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);	/* no orphans if we are killed */
		worker_main(listen_fd, serve);
	}
	p->pids[slot] = pid;
	p->started[slot] = time(NULL);
}

static int
slot_of(struct pool *p, pid_t pid)
{
	for (int i = 0; i < p->n; i++)
		if (p->pids[i] == pid)
			return i;
	return -1;
}

static void
signal_all(struct pool *p, int sig)
{
	for (int i = 0; i < p->n; i++)
		if (p->pids[i] > 0)
			kill(p->pids[i], sig);
}

/* Reaps dead workers and starts their replacements. A worker that died
 * within a second of its start is replaced after a pause, not in a loop.
 * Children of a previous image (after SIGHUP) are not in the pool. */
static void
reap(struct pool *p, int listen_fd, server_serve_fn *serve, int respawn)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int slot = slot_of(p, pid);

		if (slot < 0)
			continue;
		p->pids[slot] = 0;
		if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
			log_error("worker %d died (%s %d); restarting", (int)pid,
			    WIFSIGNALED(status) ? "signal" : "exit",
			    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		if (!respawn)
			continue;
		if (time(NULL) - p->started[slot] < 1)
			sleep(1);
		spawn(p, slot, listen_fd, serve);
	}
}

static int
live_workers(struct pool *p)
{
	int n = 0;

	for (int i = 0; i < p->n; i++)
		n += p->pids[i] > 0;
	return n;
}

/* Asks every worker to finish and waits, resending SIGTERM each second
 * (it may have been between its check and accept()); SIGKILL at the end. */
static void
stop_workers(struct pool *p, int listen_fd, server_serve_fn *serve)
{
	for (int waited = 0; live_workers(p) > 0; waited++) {
		signal_all(p, waited < STOP_GRACE_SECONDS ? SIGTERM : SIGKILL);
		for (int i = 0; i < 10 && live_workers(p) > 0; i++) {
			usleep(100 * 1000);
			reap(p, listen_fd, serve, 0);
		}
	}
}

static void
reexec(int listen_fd, char **argv)
{
	char fd[16];

	snprintf(fd, sizeof(fd), "%d", listen_fd);
	setenv("CRM_LISTEN_FD", fd, 1);
	log_info("SIGHUP: re-executing %s", argv[0]);
	/* by its path, so that a binary rebuilt in place (a new file) takes
	 * over; /proc/self/exe would name the old, unlinked one */
	execv(strchr(argv[0], '/') != NULL ? argv[0] : "/proc/self/exe", argv);
	log_error("re-exec failed: %s", strerror(errno));
}

int
server_run(int listen_fd, int workers, server_serve_fn *serve, char **argv)
{
	struct pool p = {.n = workers > MAX_WORKERS ? MAX_WORKERS : workers};
	sigset_t all, none;

	sigemptyset(&none);
	sigemptyset(&all);
	sigaddset(&all, SIGTERM);
	sigaddset(&all, SIGINT);
	sigaddset(&all, SIGHUP);
	sigaddset(&all, SIGCHLD);
	/* Handled only inside sigsuspend, so no wake-up is ever lost. */
	sigprocmask(SIG_BLOCK, &all, NULL);
	catch_signal(SIGTERM, on_signal);
	catch_signal(SIGINT, on_signal);
	catch_signal(SIGHUP, on_signal);
	catch_signal(SIGCHLD, on_signal);
	for (int i = 0; i < p.n; i++)
		spawn(&p, i, listen_fd, serve);
	log_info("crm-api started %d workers", p.n);
	while (!got_term) {
		sigsuspend(&none);
		if (got_chld) {
			got_chld = 0;
			reap(&p, listen_fd, serve, !got_term);
		}
		if (got_hup) {
			got_hup = 0;
			/* Old workers finish their request and exit; the new image
			 * starts fresh ones on the same socket at once. */
			signal_all(&p, SIGTERM);
			reexec(listen_fd, argv);
		}
	}
	log_info("stopping: waiting for %d workers", live_workers(&p));
	stop_workers(&p, listen_fd, serve);
	log_info("stopped");
	return 0;
}
