/*
 * server.c - listeners, live sessions, signals and reload on one loop.
 *
 * A reload builds and checks a whole new configuration first; only then
 * are listeners opened for new addresses, kept (and pointed at the new
 * service) for unchanged ones, and closed for removed ones.  Sessions that
 * are running keep the configuration they started with.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/dns_forward.h"
#include "shim/log.h"
#include "shim/server.h"
#include "shim/session.h"
#include "shim/tls.h"
#include "shim/transparent.h"

#define LISTEN_BACKLOG	511

/* Active sessions per service name, kept across reloads so that
 * max_sessions counts the sessions of the old configuration too, and
 * shared by every worker: the registry is looked up only when a listener
 * opens (under a mutex), the counter changes per session (atomically). */
struct svc_stat {
	struct svc_stat		*next;
	unsigned		 active;
	char			 name[64];
};

static struct svc_stat *stats;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_session_id;

struct listener {
	uv_tcp_t		 tcp;
	struct server		*srv;
	struct conf		*conf;		/* held reference */
	const struct conf_service *svc;
	struct svc_stat		*stat;
	struct listener		*next;
	bool			 keep;		/* reload bookkeeping */
	char			 addr[64];
};

static struct svc_stat *
stat_for(const char *name)
{
	struct svc_stat *st;

	pthread_mutex_lock(&stats_lock);
	for (st = stats; st != NULL; st = st->next)
		if (strcmp(st->name, name) == 0)
			break;
	if (st == NULL && (st = calloc(1, sizeof(*st))) != NULL) {
		snprintf(st->name, sizeof(st->name), "%s", name);
		st->next = stats;
		stats = st;
	}
	pthread_mutex_unlock(&stats_lock);
	return st;
}

/* server_active_each - call fn with each service's active sessions (for
 * metrics; every service ever opened, also one a reload removed) */
void
server_active_each(void (*fn)(void *, const char *, unsigned), void *arg)
{
	struct svc_stat *st;

	pthread_mutex_lock(&stats_lock);
	for (st = stats; st != NULL; st = st->next)
		fn(arg, st->name, __atomic_load_n(&st->active,
		    __ATOMIC_RELAXED));
	pthread_mutex_unlock(&stats_lock);
}

/* server_next_id - session ids are unique across workers */
uint64_t
server_next_id(void)
{
	return __atomic_add_fetch(&last_session_id, 1, __ATOMIC_RELAXED);
}

static void
on_connection(uv_stream_t *h, int status)
{
	struct listener *l = h->data;
	struct server *srv = l->srv;
	struct session *s;
	int rc;

	if (status < 0) {
		logmsg(LOG_L_WARN, "accept on %s: %s", l->addr,
		    uv_strerror(status));
		return;
	}
	if ((s = sess_new(srv, l->conf, l->svc)) == NULL) {
		logmsg(LOG_L_ERR, "accept on %s: out of memory", l->addr);
		return;
	}
	uv_tcp_init(srv->loop, &s->down.tcp);
	s->down.open = true;
	s->handles++;
	s->stat = l->stat;
	if (s->stat != NULL)
		__atomic_add_fetch(&s->stat->active, 1, __ATOMIC_RELAXED);
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	if ((rc = uv_accept(h, (uv_stream_t *)&s->down.tcp)) < 0) {
		sess_abort(s, uv_strerror(rc));
		return;
	}
	if (s->stat != NULL && __atomic_load_n(&s->stat->active,
	    __ATOMIC_RELAXED) > l->svc->max_sessions) {
		/* A clean temporary failure: the client retries later. */
		sess_refuse(s, RES_REFUSED, CAUSE_LIMIT,
		    "too many sessions (max_sessions "
		    "= %u)", l->svc->max_sessions);
		return;
	}
	sess_start(s);
}

void
server_session_done(struct server *srv, struct session *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	srv->nsessions--;
	if (s->stat != NULL)
		__atomic_sub_fetch(&s->stat->active, 1, __ATOMIC_RELAXED);
	if (srv->draining && srv->nsessions == 0)
		server_close(srv);
}

static void
on_listener_closed(uv_handle_t *h)
{
	struct listener *l = h->data;

	conf_unref(l->conf);
	free(l);
}

/* address_taken - is another socket (of another process, say) listening
 * on this address?  Our own listeners set SO_REUSEPORT so that every
 * worker can accept on the same address; a probe without it fails where
 * anyone listens, which keeps "address in use" an error instead of two
 * daemons silently sharing a port. */
static bool
address_taken(const struct conf_addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1, rc;

	if (fd < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	rc = bind(fd, (const struct sockaddr *)&a->ss, a->len);
	close(fd);
	return rc < 0 && errno == EADDRINUSE;
}

/* listen_socket - a bound socket that every worker can share; tproxy:
 * one that takes connections for any address (IP_TRANSPARENT) */
static int
listen_socket(const struct conf_addr *a, bool tproxy)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	/* libuv 1.44 has no UV_TCP_REUSEPORT: set it before bind. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (a->ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    (tproxy && transparent_listen_opt(fd, a->ss.ss_family) < 0) ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* listener_open - bind and listen on one address of a service */
static struct listener *
listener_open(struct server *srv, struct conf *conf,
    const struct conf_service *svc, const struct conf_addr *a, bool probe,
    char *err, size_t errlen)
{
	struct listener *l = calloc(1, sizeof(*l));
	int fd, rc;

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (probe && address_taken(a)) {
		snprintf(err, errlen, "[%s] listen = %s: %s", svc->name,
		    a->text, uv_strerror(UV_EADDRINUSE));
		free(l);
		return NULL;
	}
	l->srv = srv;
	l->svc = svc;
	l->conf = conf_ref(conf);
	l->stat = stat_for(svc->name);
	snprintf(l->addr, sizeof(l->addr), "%s", a->text);
	uv_tcp_init(srv->loop, &l->tcp);
	l->tcp.data = l;
	if ((fd = rc = listen_socket(a,
	    svc->transparent == TP_TPROXY)) >= 0 &&
	    (rc = uv_tcp_open(&l->tcp, fd)) < 0)
		close(fd);	/* not the handle's yet */
	if (rc >= 0)
		rc = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG,
		    on_connection);
	if (rc < 0) {
		snprintf(err, errlen, "[%s] listen = %s: %s", svc->name,
		    a->text, uv_strerror(rc));
		uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
		return NULL;
	}
	return l;
}

static void
listener_close(struct listener *l)
{
	uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}

/* open_all - listeners for conf: reuse those in old with the same address,
 * open the others; on failure close what was opened and return false */
static bool
open_all(struct server *srv, struct conf *conf, struct listener **out,
    char *err, size_t errlen)
{
	struct listener *list = NULL, *l, **pp;

	for (size_t i = 0; i < conf->nservices; i++) {
		const struct conf_service *svc = &conf->services[i];

		for (size_t j = 0; j < svc->nlisten; j++) {
			const struct conf_addr *a = &svc->listen[j];

			for (pp = &srv->listeners; *pp != NULL; pp = &(*pp)->next)
				if (!(*pp)->keep &&
				    strcmp((*pp)->addr, a->text) == 0)
					break;
			if ((l = *pp) != NULL) {
				/* Same address: keep the socket, so no
				 * connection is refused during a reload. */
				*pp = l->next;
				conf_unref(l->conf);
				l->conf = conf_ref(conf);
				l->svc = svc;
				l->stat = stat_for(svc->name);
				l->keep = true;
			} else if ((l = listener_open(srv, conf, svc, a,
			    !srv->joins, err, errlen)) == NULL) {
				/* Put kept listeners back, close new ones. */
				while ((l = list) != NULL) {
					list = l->next;
					if (l->keep) {
						l->keep = false;
						l->next = srv->listeners;
						srv->listeners = l;
					} else
						listener_close(l);
				}
				return false;
			}
			l->next = list;
			list = l;
		}
	}
	*out = list;
	return true;
}

bool
server_init(struct server *srv, uv_loop_t *loop, struct conf *conf,
    const char *conf_path, char *err, size_t errlen)
{
	struct listener *list, *l;

	srv->loop = loop;
	srv->conf = conf;
	srv->conf_path = strdup(conf_path);
	if (!open_all(srv, conf, &list, err, errlen))
		return false;
	srv->listeners = list;
	if (!server_dns_setup(srv, conf, err, errlen) ||
	    !dns_fwd_apply(srv, conf, err, errlen))
		return false;
	for (l = list; l != NULL; l = l->next) {
		l->keep = false;
		if (srv->joins)
			continue;	/* said once, by the first worker */
		logmsg(LOG_L_INFO, "listening on %s for [%s] protocol=%s "
		    "upstream=%s:%u security=%s", l->addr, l->svc->name,
		    l->svc->proto->name, l->svc->upstream_host,
		    l->svc->upstream_port, level_name(l->svc->level));
	}
	return true;
}

/* server_load - read and check the configuration file again, with its
 * TLS credentials; NULL (and a logged reason, also in err unless it is
 * NULL) if it is not valid */
struct conf *
server_load(const char *path, char *err, size_t errlen)
{
	struct conf_error cerr;
	struct conf *conf;

	if ((conf = conf_load(path, &cerr)) == NULL ||
	    !tls_conf_prepare(conf, &cerr)) {
		logmsg(LOG_L_ERR, "reload failed, keeping the running "
		    "configuration: %s", cerr.msg);
		if (err != NULL)
			snprintf(err, errlen, "%s", cerr.msg);
		if (conf != NULL)
			conf_unref(conf);
		return NULL;
	}
	return conf;
}

/* server_apply - run conf from now on (takes one reference): listeners
 * for its addresses, the old ones kept where the address is the same;
 * false (and why in why, unless it is NULL) when they cannot be had */
bool
server_apply(struct server *srv, struct conf *conf, char *why,
    size_t whylen)
{
	struct listener *list, *l;
	char err[CONF_ERR_MAX];

	if (!open_all(srv, conf, &list, err, sizeof(err))) {
		logmsg(LOG_L_ERR, "reload failed, keeping the running "
		    "configuration: %s", err);
		if (why != NULL)
			snprintf(why, whylen, "%s", err);
		conf_unref(conf);
		return false;
	}
	/* What is left in srv->listeners is not in the new configuration. */
	while ((l = srv->listeners) != NULL) {
		srv->listeners = l->next;
		logmsg(LOG_L_DETAIL, "reload: no longer listening on %s",
		    l->addr);
		listener_close(l);
	}
	for (l = list; l != NULL; l = l->next) {
		if (!l->keep)
			logmsg(LOG_L_DETAIL, "reload: listening on %s for [%s]",
			    l->addr, l->svc->name);
		l->keep = false;
	}
	srv->listeners = list;
	log_set_level((enum log_level)conf->log_level);
	if (!server_dns_setup(srv, conf, err, sizeof(err)))
		logmsg(LOG_L_ERR, "reload: DNS: %s; keeping the previous "
		    "resolver settings", err);
	if (!dns_fwd_apply(srv, conf, err, sizeof(err)))
		logmsg(LOG_L_ERR, "reload: %s", err);
	conf_unref(srv->conf);
	srv->conf = conf;
	return true;
}

bool
server_reload(struct server *srv)
{
	struct conf *conf = server_load(srv->conf_path, NULL, 0);

	if (conf == NULL || !server_apply(srv, conf, NULL, 0))
		return false;
	logmsg(LOG_L_INFO, "configuration reloaded from %s; %u sessions go "
	    "on with the previous one", srv->conf_path, srv->nsessions);
	return true;
}

void
server_drain(struct server *srv)
{
	struct listener *l;

	if (srv->draining) {
		/* A second signal: stop waiting for sessions. */
		logmsg(LOG_L_INFO, "stopping now, cutting %u sessions",
		    srv->nsessions);
		for (struct session *s = srv->sessions; s != NULL; s = s->next)
			sess_abort(s, "tlshimd stopped");
		return;
	}
	srv->draining = true;
	while ((l = srv->listeners) != NULL) {
		srv->listeners = l->next;
		listener_close(l);
	}
	logmsg(LOG_L_INFO, "stopped accepting; waiting for %u sessions",
	    srv->nsessions);
	if (srv->nsessions == 0)
		server_close(srv);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;

	if (srv->on_signal != NULL) {
		srv->on_signal(srv, signum);
		return;
	}
	if (signum == SIGHUP) {
		if (!srv->draining)
			server_reload(srv);
		return;
	}
	server_drain(srv);
}

void
server_signals(struct server *srv)
{
	uv_signal_init(srv->loop, &srv->sig_hup);
	uv_signal_init(srv->loop, &srv->sig_term);
	uv_signal_init(srv->loop, &srv->sig_int);
	srv->sig_hup.data = srv->sig_term.data = srv->sig_int.data = srv;
	uv_signal_start(&srv->sig_hup, on_signal, SIGHUP);
	uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
	uv_signal_start(&srv->sig_int, on_signal, SIGINT);
	srv->signals = true;
}

/* server_close - close what keeps the loop running, so uv_run returns */
void
server_close(struct server *srv)
{
	struct listener *l;

	while ((l = srv->listeners) != NULL) {
		srv->listeners = l->next;
		listener_close(l);
	}
	server_dns_close(srv);
	dns_fwd_stop(srv);
	if (srv->signals) {
		srv->signals = false;
		uv_close((uv_handle_t *)&srv->sig_hup, NULL);
		uv_close((uv_handle_t *)&srv->sig_term, NULL);
		uv_close((uv_handle_t *)&srv->sig_int, NULL);
	}
	if (srv->on_close != NULL)
		srv->on_close(srv);
}
