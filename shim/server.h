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

struct server {
	uv_loop_t		*loop;
	struct conf		*conf;		/* in force for new sessions */
	char			*conf_path;	/* re-read on SIGHUP */
	struct listener		*listeners;
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
/* server_load - the configuration file checked, with TLS credentials */
struct conf *server_load(const char *path);
/* server_apply - swap conf in (takes its reference); false: kept old */
bool	server_apply(struct server *, struct conf *);
/* server_next_id - a session id unique in the process */
uint64_t server_next_id(void);
/* server_drain - stop accepting; the loop ends when sessions are done */
void	server_drain(struct server *);
/* server_close - close every handle (after the loop ran dry) */
void	server_close(struct server *);

/* For session.c. */
void	server_session_done(struct server *, struct session *);

#endif
