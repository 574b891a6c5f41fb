/*
 * server.h - the daemon's running state on one event loop: listeners,
 * live sessions, the configuration in force, signals and reload.
 */
#ifndef TLSHIM_SERVER_H
#define TLSHIM_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "shim/conf.h"
#include "shim/io.h"
#include "shim/result.h"

struct session;
struct listener;
struct server_dns;

struct server {
	uv_loop_t		*loop;
	struct conf		*conf;		/* in force for new sessions */
	char			*conf_path;	/* re-read on SIGHUP */
	struct listener		*listeners;
	struct server_dns	*dns;		/* for new sessions; NULL until
						 * a configuration needs DNS */
	struct session		*sessions;	/* live, for drain and abort */
	unsigned		 nsessions;
	bool			 draining;	/* SIGTERM: no new sessions */
	uv_signal_t		 sig_hup, sig_term, sig_int;
	bool			 signals;	/* the signal handles are open */
	/* Another worker already listens on these addresses, so finding
	 * them in use is expected: do not probe for other owners. */
	bool			 joins;
	/* Reads land here and are consumed before the next read: one
	 * buffer per loop instead of one per session. */
	char			 readbuf[IO_READ_BUF];
	char			 tlsbuf[IO_READ_BUF];
	/* Workers: signals are taken over by main.c, and the worker closes
	 * its own handles when the server is done. */
	void			(*on_signal)(struct server *, int signum);
	void			(*on_close)(struct server *);
	void			*worker;
	/* Called with every finished session's record (tests use it). */
	void			(*on_outcome)(const struct outcome *, void *);
	void			*on_outcome_arg;
};

/* server_init - bind every listener of conf; false with a message */
bool	server_init(struct server *, uv_loop_t *, struct conf *,
	    const char *conf_path, char *err, size_t errlen);
/* server_signals - SIGHUP reloads, SIGTERM/SIGINT drain then stop */
void	server_signals(struct server *);
/* server_reload - load conf_path again and swap it in if it is valid */
bool	server_reload(struct server *);
/* server_load - the configuration file checked, with TLS credentials;
 * NULL with the reason logged, and in err unless it is NULL */
struct conf *server_load(const char *path, char *err, size_t errlen);
/* server_apply - swap conf in (takes its reference); false: kept old,
 * the reason logged and in err unless it is NULL */
bool	server_apply(struct server *, struct conf *, char *err,
	    size_t errlen);
/* server_active_each - each service's active sessions, for metrics */
void	server_active_each(void (*fn)(void *arg, const char *service,
	    unsigned active), void *arg);
/* server_next_id - a session id unique in the process */
uint64_t server_next_id(void);
/* server_drain - stop accepting; the loop ends when sessions are done */
void	server_drain(struct server *);
/* server_close - close every handle (after the loop ran dry) */
void	server_close(struct server *);

/* For session.c. */
void	server_session_done(struct server *, struct session *);

/*
 * server_dns.c: the loop's DNS client for the configuration in force.  A
 * session takes a reference for as long as it resolves; a reload with
 * other resolver settings makes a new client, and the old one is closed
 * when its last session lets it go.
 */
struct dns_client;
struct dns_settings;
/* server_dns_settings - the DNS settings conf asks for (resolv.conf's
 * servers when it names none); `tlshim probe` uses them too */
void	server_dns_settings(const struct conf *, struct dns_settings *);
/* server_dns_setup - a client for conf's settings (kept if unchanged);
 * false with err when no resolver can be found */
bool	server_dns_setup(struct server *, const struct conf *, char *err,
	    size_t errlen);
/* server_dns_get - the current client, one more reference */
struct server_dns *server_dns_get(struct server *, char *err, size_t errlen);
void	server_dns_put(struct server_dns *);
struct dns_client *server_dns_client(struct server_dns *);
/* server_dns_close - the server is done: drop its reference */
void	server_dns_close(struct server *);

#endif
