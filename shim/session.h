/*
 * session.h - one relayed connection: the legacy client, the upstream
 * server, and the state machine between them.
 *
 * Ownership: a session is created by the listener on accept and freed only
 * by sess_free(), called from the last handle close callback.  Whoever
 * detects the end of a session calls sess_end(), which owns the teardown;
 * nothing else closes the session's handles.
 */
#ifndef TLSHIM_SESSION_H
#define TLSHIM_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "plugins/proto.h"
#include "shim/conf.h"
#include "shim/io.h"
#include "shim/linebuf.h"
#include "shim/result.h"

#define SESSION_MAGIC	0x53455353u	/* "SESS" while alive */
/* A client should wait for its greeting; what it sends before is kept up
 * to this much and relayed once the relay starts. */
#define SESS_EARLY_MAX	4096

enum sstate {
	SS_OPENING = 0,		/* client-first: reading where it wants to go */
	SS_RESOLVING,		/* looking up the upstream name */
	SS_CONNECTING,		/* TCP connect to one upstream address */
	SS_NEGOTIATING,		/* plugin talks the server up to TLS */
	SS_HANDSHAKE,		/* TLS handshake with the server */
	SS_RELAY,		/* both ways, inside TLS or as policy allows */
	SS_CLOSING,		/* flushing and closing */
	SS_LAST
};

struct server;
struct server_dns;
struct tls_conn;
struct svc_stat;
struct upstream_plan;

struct session {
	uint32_t		 magic;
	uint64_t		 id;
	enum sstate		 state;		/* written only by sess_enter() */
	struct server		*srv;
	struct conf		*conf_root;	/* held reference */
	const struct conf_service *conf;
	const struct proto	*proto;
	void			*priv;		/* proto->priv_size bytes */

	struct endpoint		 down;		/* legacy client */
	struct endpoint		 up;		/* upstream server */
	uv_timer_t		 timer;		/* the current phase's timeout */
	uv_connect_t		 connreq;
	struct upstream_plan	*plan;		/* targets and addresses */
	struct server_dns	*dns;		/* held while plan lives */
	/* What this target asks of TLS: the configured level, or for the
	 * DANE levels what its TLSA records made of it (upstream.c). */
	enum tls_level		 level;
	/* How this target speaks TLS: the configured mode, or with tls =
	 * auto what the SRV label that named it says (upstream.c). */
	enum tls_mode		 tls_mode;
	/* Client-first: the destination the client named (an XMPP domain),
	 * "" otherwise.  Routing, SNI and reference identity (upstream.c). */
	char			 dest[256];
	const char		*dest_source;	/* name_source for dest itself */
	bool			 peer_is_ip;	/* out.peer is an address */
	struct tls_conn		*tls;		/* upstream TLS, once started */
	struct linebuf		 neg;		/* upstream lines, negotiation */
	size_t			 neg_rest;	/* unread after the current line */
	char			*early;		/* client bytes before the relay */
	size_t			 early_len;

	uint64_t		 last_active;	/* loop time of the last read */
	unsigned		 handles;	/* open uv handles and requests */
	bool			 plain_retry;	/* may: retrying without TLS */
	bool			 up_tls;	/* upstream leg is TLS now */
	bool			 tls_first_seen; /* first byte after STARTTLS */
	bool			 ending;	/* sess_end() has run */
	bool			 neg_begun;	/* up_begin() was called */
	bool			 handshake_done;
	enum { UP_REOPEN_NONE, UP_REOPEN_NEXT, UP_REOPEN_SAME,
	    UP_REOPEN_TARGET }	 up_reopen;	/* what to do once up closes */
	int			 last_connect_err;
	struct svc_stat		*stat;		/* active sessions of service */
	struct session		*next, *prev;	/* the server's list */
	struct outcome		 out;
};

const char	*sess_state_name(enum sstate);
/* sess_start - a client was accepted on client (already initialized) */
void		 sess_start(struct session *);
struct session	*sess_new(struct server *, struct conf *,
		    const struct conf_service *);
/* sess_end - finish the session: flush what is queued, close, log */
void		 sess_end(struct session *);
/* sess_abort - finish at once, dropping what is queued */
void		 sess_abort(struct session *, const char *why);

/* Called by io.c and tls.c. */
void		 sess_on_read(struct endpoint *, const char *, size_t);
void		 sess_on_eof(struct endpoint *);
void		 sess_on_error(struct endpoint *, int uverr);
void		 sess_on_drain(struct endpoint *);
void		 sess_on_closed(struct endpoint *);
void		 sess_on_closed_request(struct session *);
/* sess_enter - change state; the one place where state is written */
void		 sess_enter(struct session *, enum sstate);
/* sess_refuse - tell both sides the session cannot go on, then end it */
void		 sess_refuse(struct session *, enum result, enum cause,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void		 sess_arm_timer(struct session *, unsigned ms);
/* sess_forget_upstream - drop the upstream's TLS and negotiation state
 * before connecting again */
void		 sess_forget_upstream(struct session *);
/* sess_step - act on a plugin's step; rest: server bytes left unread */
void		 sess_step(struct session *, enum step, size_t rest);
void		 sess_close_all(struct session *);
bool		 sess_flushed(const struct endpoint *);
void		 sess_on_timer(uv_timer_t *);
/* sess_connected - upstream.c: TCP is up; the negotiation clock starts */
void		 sess_connected(struct session *);

/* upstream.c: resolve and connect, trying every target and address in
 * turn. */
void		 upstream_start(struct session *);
/* upstream_cancel - stop the lookups in flight (the session ends) */
void		 upstream_cancel(struct session *);
/* upstream_free - release the plan (relay started, or session freed) */
void		 upstream_free(struct session *);
/* upstream_try_next - this target failed what it had to do: go on with
 * the next one (true), or false when it was the last */
bool		 upstream_try_next(struct session *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* upstream_sni - the SNI for the current target (NULL: none) */
const char	*upstream_sni(const struct session *);
/* upstream_alpn - the ALPN protocol to offer (NULL: none) */
const char	*upstream_alpn(const struct session *);
/* upstream_verify - PKIX: the chain against the CA store and the names
 * this target must carry; true when both hold, else why */
bool		 upstream_verify(struct session *, char *why, size_t whylen);
/* upstream_dane_verify - the chain against the target's TLSA records */
enum auth	 upstream_dane_verify(struct session *, char *why,
		    size_t whylen);
/* upstream_reconnect - close the upstream and connect to it again */
void		 upstream_reconnect(struct session *);
/* upstream_on_closed - the upstream handle closed: go on as planned */
void		 upstream_on_closed(struct session *);
void		 upstream_on_timeout(struct session *);

#endif
