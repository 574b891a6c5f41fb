/*
 * worker.c - run one struct server per thread, each on its own loop.
 *
 * The first worker runs on the main thread and owns the signals: SIGHUP
 * loads the configuration once, applies it there, then hands a reference
 * to every other worker through its uv_async; SIGTERM drains them all.
 * The others only ever hear from the first through that async, under a
 * mutex: no other state crosses threads.
 *
 * Each worker also gives memory back to the system once many of its
 * sessions are gone: glibc keeps what freed sessions held for reuse, so a
 * burst of sessions would otherwise leave the daemon at its peak size for
 * good, which a router cannot afford.
 */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__		/* defined by the headers above */
#include <malloc.h>		/* malloc_trim() */
#endif

#include <uv.h>

#include "shim/admin.h"
#include "shim/log.h"
#include "shim/posture.h"
#include "shim/server.h"
#include "shim/worker.h"

#define W_RELOAD	0x1
#define W_DRAIN		0x2

/* Trim when TRIM_FALL sessions or more ended since the last trim, and
 * either none is left or they fell to half of their peak at most: a few
 * hundred sessions' memory (16 KiB each idle, more while they relay) is
 * worth a walk of the heap; a worker whose load merely wavers never
 * trims, and one that serves a session at a time trims once in
 * TRIM_FALL sessions. */
#define TRIM_FALL	256

struct worker {
	unsigned		 idx;
	pthread_t		 thread;
	uv_loop_t		 loop;
	struct server		 srv;
	uv_async_t		 async;		/* workers after the first */
	uv_prepare_t		 trim;		/* before each wait for I/O */
	unsigned		 peak;		/* sessions, since the last trim */
	unsigned		 ended;		/* sessions, since the last trim */
	unsigned		 last;		/* sessions, last time we looked */
	pthread_mutex_t		 lock;		/* guards what follows */
	unsigned		 flags;		/* W_* requests */
	struct conf		*pending;	/* with W_RELOAD */
	bool			 closed;	/* async closed: send no more */
};

static struct worker *workers;
static unsigned nworkers;

unsigned
workers_count(const struct conf *conf)
{
	long n;

	if (conf->workers > 0)
		return conf->workers;
	/* The CPUs this process may run on (taskset, cgroups, a container
	 * limit), not every CPU of the machine: more loops than CPUs only
	 * take turns. */
	{
		cpu_set_t set;

		if (sched_getaffinity(0, sizeof(set), &set) == 0)
			n = CPU_COUNT(&set);
		else
			n = sysconf(_SC_NPROCESSORS_ONLN);
	}
	if (n < 1)
		n = 1;
	return n > CONF_WORKERS_MAX ? CONF_WORKERS_MAX : (unsigned)n;
}

/* tell - queue a request for worker w and wake it */
static void
tell(struct worker *w, unsigned flag, struct conf *conf)
{
	pthread_mutex_lock(&w->lock);
	if (w->closed) {
		pthread_mutex_unlock(&w->lock);
		if (conf != NULL)
			conf_unref(conf);
		return;
	}
	if (conf != NULL) {
		if (w->pending != NULL)
			conf_unref(w->pending);
		w->pending = conf;
	}
	w->flags |= flag;
	uv_async_send(&w->async);
	pthread_mutex_unlock(&w->lock);
}

static void
on_async(uv_async_t *a)
{
	struct worker *w = a->data;
	struct conf *conf;
	unsigned flags;

	pthread_mutex_lock(&w->lock);
	flags = w->flags;
	conf = w->pending;
	w->flags = 0;
	w->pending = NULL;
	pthread_mutex_unlock(&w->lock);
	if ((flags & W_RELOAD) && conf != NULL) {
		if (w->srv.draining)
			conf_unref(conf);
		else
			server_apply(&w->srv, conf, NULL, 0);
	}
	if (flags & W_DRAIN)
		server_drain(&w->srv);
}

/* on_trim - before the loop waits for I/O (after the close callbacks
 * that free sessions, and before a wait that may last): when the
 * worker's sessions fell a lot, give the memory they held back to the
 * system */
static void
on_trim(uv_prepare_t *p)
{
	struct worker *w = p->data;
	unsigned n = w->srv.nsessions;

	if (n < w->last)
		w->ended += w->last - n;
	w->last = n;
	if (n > w->peak)
		w->peak = n;
	if (w->ended >= TRIM_FALL && (n == 0 || n <= w->peak / 2)) {
#ifdef __GLIBC__
		malloc_trim(0);
#endif
		w->peak = n;
		w->ended = 0;
	}
}

/* on_server_close - the worker's server is done: let its loop end */
static void
on_server_close(struct server *srv)
{
	struct worker *w = srv->worker;

	pthread_mutex_lock(&w->lock);
	if (!w->closed) {
		w->closed = true;
		uv_close((uv_handle_t *)&w->async, NULL);
	}
	if (w->pending != NULL) {
		conf_unref(w->pending);
		w->pending = NULL;
	}
	pthread_mutex_unlock(&w->lock);
}

/* on_signal - the first worker's signals, for all */
static void
on_signal(struct server *srv, int signum)
{
	if (signum != SIGHUP) {
		server_drain(srv);
		for (unsigned i = 1; i < nworkers; i++)
			tell(&workers[i], W_DRAIN, NULL);
		return;
	}
	workers_reload(NULL, 0);
}

/* workers_reload - SIGHUP's reload, also for the control socket: on the
 * first worker's thread only; false with the reason in err (unless it
 * is NULL) when the running configuration stays */
bool
workers_reload(char *err, size_t errlen)
{
	struct server *srv = &workers[0].srv;
	struct conf *conf;
	char perr[256];

	if (srv->draining) {
		if (err != NULL)
			snprintf(err, errlen, "tlshimd is stopping");
		return false;
	}
	if ((conf = server_load(srv->conf_path, err, errlen)) == NULL)
		return false;
	/* Apply here first: if this worker cannot bind the new addresses,
	 * no worker changes. */
	conf_ref(conf);
	if (!server_apply(srv, conf, err, errlen)) {
		conf_unref(conf);
		return false;
	}
	for (unsigned i = 1; i < nworkers; i++)
		tell(&workers[i], W_RELOAD, conf_ref(conf));
	admin_reloaded(conf);
	/* The store's retention, pins and state_dir follow the file;
	 * only memory can fail here, and the relay goes on regardless. */
	if (!posture_open(conf, perr, sizeof(perr)))
		logmsg(LOG_L_ERR, "%s", perr);
	conf_unref(conf);
	logmsg(LOG_L_INFO, "configuration reloaded from %s by %u workers; "
	    "running sessions go on with the previous one", srv->conf_path,
	    nworkers);
	return true;
}

/* workers_first - the first worker's server (its loop runs the metrics
 * and the control socket), NULL before workers_init */
struct server *
workers_first(void)
{
	return workers != NULL ? &workers[0].srv : NULL;
}

bool
workers_init(struct conf *conf, const char *path, unsigned n, char *err,
    size_t errlen)
{
	if ((workers = calloc(n, sizeof(*workers))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	nworkers = n;
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = &workers[i];
		int rc;

		w->idx = i;
		pthread_mutex_init(&w->lock, NULL);
		if ((rc = uv_loop_init(&w->loop)) < 0) {
			snprintf(err, errlen, "event loop: %s", uv_strerror(rc));
			return false;
		}
		w->srv.worker = w;
		/* Unreferenced: it never keeps the loop alive. */
		uv_prepare_init(&w->loop, &w->trim);
		w->trim.data = w;
		uv_prepare_start(&w->trim, on_trim);
		uv_unref((uv_handle_t *)&w->trim);
		/* The first worker checks that no one else has the
		 * addresses; the others join its listeners. */
		w->srv.joins = i > 0;
		if (!server_init(&w->srv, &w->loop, conf_ref(conf), path, err,
		    errlen))
			return false;
		if (i == 0) {
			server_signals(&w->srv);
			w->srv.on_signal = on_signal;
			continue;
		}
		w->srv.on_close = on_server_close;
		uv_async_init(&w->loop, &w->async, on_async);
		w->async.data = w;
	}
	return true;
}

static void *
run(void *arg)
{
	struct worker *w = arg;

	uv_run(&w->loop, UV_RUN_DEFAULT);
	/* The server is done; the trim handle is the last one. */
	uv_close((uv_handle_t *)&w->trim, NULL);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	return NULL;
}

void
workers_run(void)
{
	unsigned started = 1;

	for (; started < nworkers; started++)
		if (pthread_create(&workers[started].thread, NULL, run,
		    &workers[started]) != 0)
			break;
	if (started < nworkers) {
		logmsg(LOG_L_ERR, "cannot start worker %u; running with %u",
		    started, started);
		/* Their listeners would take connections nobody serves. */
		for (unsigned j = started; j < nworkers; j++) {
			server_drain(&workers[j].srv);
			run(&workers[j]);
		}
	}
	run(&workers[0]);
	for (unsigned i = 1; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	for (unsigned i = 0; i < nworkers; i++) {
		conf_unref(workers[i].srv.conf);
		free(workers[i].srv.conf_path);
		uv_loop_close(&workers[i].loop);
		pthread_mutex_destroy(&workers[i].lock);
	}
	free(workers);
	workers = NULL;
	nworkers = 0;
}
