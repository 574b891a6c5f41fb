/*
 * worker.c - run one struct server per thread, each on its own loop.
 *
 * The first worker runs on the main thread and owns the signals: SIGHUP
 * loads the configuration once, applies it there, then hands a reference
 * to every other worker through its uv_async; SIGTERM drains them all.
 * The others only ever hear from the first through that async, under a
 * mutex: no other state crosses threads.
 */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "shim/log.h"
#include "shim/server.h"
#include "shim/worker.h"

#define W_RELOAD	0x1
#define W_DRAIN		0x2

struct worker {
	unsigned		 idx;
	pthread_t		 thread;
	uv_loop_t		 loop;
	struct server		 srv;
	uv_async_t		 async;		/* workers after the first */
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
			server_apply(&w->srv, conf);
	}
	if (flags & W_DRAIN)
		server_drain(&w->srv);
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
	struct conf *conf;

	if (signum != SIGHUP) {
		server_drain(srv);
		for (unsigned i = 1; i < nworkers; i++)
			tell(&workers[i], W_DRAIN, NULL);
		return;
	}
	if (srv->draining || (conf = server_load(srv->conf_path)) == NULL)
		return;
	/* Apply here first: if this worker cannot bind the new addresses,
	 * no worker changes. */
	conf_ref(conf);
	if (!server_apply(srv, conf)) {
		conf_unref(conf);
		return;
	}
	for (unsigned i = 1; i < nworkers; i++)
		tell(&workers[i], W_RELOAD, conf_ref(conf));
	conf_unref(conf);
	logmsg(LOG_L_INFO, "configuration reloaded from %s by %u workers; "
	    "running sessions go on with the previous one", srv->conf_path,
	    nworkers);
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
			uv_run(&workers[j].loop, UV_RUN_DEFAULT);
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
