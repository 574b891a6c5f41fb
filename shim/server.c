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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/log.h"
#include "shim/server.h"
#include "shim/session.h"
#include "shim/tls.h"

#define LISTEN_BACKLOG	511

/* Active sessions per service name, kept across reloads so that
 * max_sessions counts the sessions of the old configuration too. */
struct svc_stat {
	struct svc_stat		*next;
	unsigned		 active;
	char			 name[64];
};

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
stat_for(struct server *srv, const char *name)
{
	struct svc_stat *st;

	for (st = srv->stats; st != NULL; st = st->next)
		if (strcmp(st->name, name) == 0)
			return st;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	snprintf(st->name, sizeof(st->name), "%s", name);
	st->next = srv->stats;
	srv->stats = st;
	return st;
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
		s->stat->active++;
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	if ((rc = uv_accept(h, (uv_stream_t *)&s->down.tcp)) < 0) {
		sess_abort(s, uv_strerror(rc));
		return;
	}
	if (s->stat != NULL && s->stat->active > l->svc->max_sessions) {
		/* A clean temporary failure: the client retries later. */
		sess_refuse(s, RES_REFUSED, "too many sessions (max_sessions "
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
		s->stat->active--;
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

/* listener_open - bind and listen on one address of a service */
static struct listener *
listener_open(struct server *srv, struct conf *conf,
    const struct conf_service *svc, const struct conf_addr *a, char *err,
    size_t errlen)
{
	struct listener *l = calloc(1, sizeof(*l));
	unsigned flags = a->ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
	int rc;

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->srv = srv;
	l->svc = svc;
	l->conf = conf_ref(conf);
	l->stat = stat_for(srv, svc->name);
	snprintf(l->addr, sizeof(l->addr), "%s", a->text);
	uv_tcp_init(srv->loop, &l->tcp);
	l->tcp.data = l;
	if ((rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&a->ss,
	    flags)) < 0 || (rc = uv_listen((uv_stream_t *)&l->tcp,
	    LISTEN_BACKLOG, on_connection)) < 0) {
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
				l->stat = stat_for(srv, svc->name);
				l->keep = true;
			} else if ((l = listener_open(srv, conf, svc, a, err,
			    errlen)) == NULL) {
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
	for (l = list; l != NULL; l = l->next) {
		l->keep = false;
		logmsg(LOG_L_INFO, "listening on %s for [%s] protocol=%s "
		    "upstream=%s:%u security=%s", l->addr, l->svc->name,
		    l->svc->proto->name, l->svc->upstream_host,
		    l->svc->upstream_port, level_name(l->svc->level));
	}
	return true;
}

bool
server_reload(struct server *srv)
{
	struct conf_error cerr;
	struct conf *conf;
	struct listener *list, *l;
	char err[CONF_ERR_MAX];

	if ((conf = conf_load(srv->conf_path, &cerr)) == NULL ||
	    !tls_conf_prepare(conf, &cerr)) {
		logmsg(LOG_L_ERR, "reload failed, keeping the running "
		    "configuration: %s", cerr.msg);
		if (conf != NULL)
			conf_unref(conf);
		return false;
	}
	if (!open_all(srv, conf, &list, err, sizeof(err))) {
		logmsg(LOG_L_ERR, "reload failed, keeping the running "
		    "configuration: %s", err);
		conf_unref(conf);
		return false;
	}
	/* What is left in srv->listeners is not in the new configuration. */
	while ((l = srv->listeners) != NULL) {
		srv->listeners = l->next;
		logmsg(LOG_L_INFO, "reload: no longer listening on %s", l->addr);
		listener_close(l);
	}
	for (l = list; l != NULL; l = l->next) {
		if (!l->keep)
			logmsg(LOG_L_INFO, "reload: listening on %s for [%s]",
			    l->addr, l->svc->name);
		l->keep = false;
	}
	srv->listeners = list;
	log_set_level((enum log_level)conf->log_level);
	conf_unref(srv->conf);
	srv->conf = conf;
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
	struct svc_stat *st;

	while ((l = srv->listeners) != NULL) {
		srv->listeners = l->next;
		listener_close(l);
	}
	if (srv->signals) {
		srv->signals = false;
		uv_close((uv_handle_t *)&srv->sig_hup, NULL);
		uv_close((uv_handle_t *)&srv->sig_term, NULL);
		uv_close((uv_handle_t *)&srv->sig_int, NULL);
	}
	while ((st = srv->stats) != NULL && srv->nsessions == 0) {
		srv->stats = st->next;
		free(st);
	}
}
