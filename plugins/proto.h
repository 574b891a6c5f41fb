/*
 * proto.h - the interface between the core and a protocol plugin.
 *
 * A protocol is one const struct proto, registered in shim/proto.c.  The
 * core owns sockets, buffers, TLS, timers and policy; a plugin only reads
 * the lines the core hands it and writes through sess_write_*().  The core
 * never compares protocol names: everything protocol-specific is reached
 * through the descriptor.
 *
 * Outbound sessions run in two phases:
 *
 *  1. Negotiation with the upstream server.  up_begin() is called when the
 *     upstream is connected (and, with implicit TLS, after the handshake).
 *     up_line() then gets each complete line the upstream sends and answers
 *     with a step.  STEP_STARTTLS makes the core check that nothing else is
 *     buffered, run the handshake and verification, then call up_tls_ready().
 *     STEP_NO_TLS says TLS cannot be had on this connection: the core
 *     refuses or, where the level allows, goes on in plaintext as if the
 *     plugin had said STEP_READY.
 *  2. Relay.  On STEP_READY the core calls down_greet() to greet the legacy
 *     client, then feeds every byte from either side to relay_from_down()
 *     and relay_from_up(), which forward (or answer) through sess_write_*.
 *
 * Client-first protocols (XMPP: the client opens its stream and names the
 * domain it wants) set down_open().  The core then reads the client before
 * it looks for an upstream: down_open() gets the client's bytes as they
 * come, under the connect timeout, until it has what it needs (a
 * destination, given with sess_set_dest()); what the client sent after
 * that is kept and relayed once the relay starts, as early bytes are.
 * Protocols that are not line-based set up_bytes() instead of up_line():
 * the core then hands it the upstream's bytes as they arrive.
 */
#ifndef TLSHIM_PROTO_H
#define TLSHIM_PROTO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shim/conf.h"
#include "shim/result.h"

struct session;

enum step {
	STEP_MORE = 0,		/* waiting for more lines */
	STEP_STARTTLS,		/* upstream said go ahead: start TLS now */
	STEP_READY,		/* negotiation done: greet the client, relay */
	STEP_NO_TLS,		/* TLS not available here (reason recorded) */
	STEP_FAIL		/* give up (result and reason recorded) */
};

struct proto {
	const char	*name;		/* "smtp", "submission", ... */
	uint16_t	 port;		/* default upstream port */
	uint16_t	 implicit_port;	/* default with tls = implicit */
	enum tls_level	 default_level;
	size_t		 line_max;	/* longest upstream line in negotiation */
	size_t		 priv_size;	/* per-session state, zeroed by the core */
	/* Routing by DNS: upstream = mx:DOMAIN is allowed (SMTP relaying,
	 * RFC 5321 5.1); upstream = srv:DOMAIN asks for _LABEL._tcp.DOMAIN,
	 * the implicit-TLS label with tls = implicit (RFC 6186, 8314 5.1).
	 * NULL labels: no SRV routing for this protocol. */
	bool		 mx_routing;
	const char	*srv_label;
	const char	*srv_label_implicit;
	/* With SRV routing: no SRV records means the domain's own address
	 * records on the default port (RFC 6120 3.2.2), instead of a
	 * refusal.  Also allows tls = auto: both labels are looked up and
	 * each target keeps the TLS mode of its label (XEP-0368). */
	bool		 srv_fallback;
	/* ALPN protocol offered with implicit TLS (NULL: none). */
	const char	*alpn;

	/* Client-first: the client's bytes before any upstream exists.
	 * STEP_MORE: all taken, more needed; STEP_READY: *used bytes taken
	 * and the destination set (the rest are early bytes); STEP_FAIL:
	 * refuse (result and reason recorded).  NULL: the server speaks
	 * first. */
	enum step	(*down_open)(struct session *, const char *, size_t,
			    size_t *used);
	enum step	(*up_begin)(struct session *);
	enum step	(*up_line)(struct session *, const char *line,
			    size_t len);
	/* Instead of up_line, for byte streams: take the server's bytes;
	 * on a step other than STEP_MORE, *used says how many were taken
	 * (what follows is the server talking out of turn). */
	enum step	(*up_bytes)(struct session *, const char *, size_t,
			    size_t *used);
	enum step	(*up_tls_ready)(struct session *);
	/* Sent upstream (inside TLS if up) before a refusal closes it. */
	const char	*up_quit;

	void		(*down_greet)(struct session *);
	/* Relay: consume bytes from one side.  Return 0, or -1 after
	 * recording result and reason to end the session. */
	int		(*relay_from_down)(struct session *, const char *,
			    size_t);
	int		(*relay_from_up)(struct session *, const char *,
			    size_t);
	/* Tell the legacy client, in its protocol's words, that the session
	 * cannot go on and it should retry later. */
	void		(*refuse_down)(struct session *, const char *reason);
	/* Free what the plugin allocated in priv (may be NULL). */
	void		(*free_priv)(struct session *);
};

/* shim/proto.c: the registry. */
const struct proto *proto_find(const char *name);
/* proto_names - "smtp, submission" for error messages */
const char	*proto_names(void);
/* proto_at - the i-th registered plugin, NULL past the last (metrics
 * list every protocol, also those no session used yet) */
const struct proto *proto_at(size_t i);
/* proto_verb_is - does a command line start with this keyword (any case,
 * followed by a blank or the line's end)?  For SMTP and POP3 commands. */
bool		 proto_verb_is(const char *line, size_t len, const char *verb);

/*
 * What a plugin may call on a session.  Implemented in shim/session.c
 * (tests link a fake with the same symbols).
 */
void		*sess_priv(struct session *);
const struct conf_service *sess_conf(const struct session *);
struct outcome	*sess_outcome(struct session *);
/* sess_up_tls - is the upstream leg TLS now? */
bool		 sess_up_tls(const struct session *);
/* sess_tls_wanted - should the plugin try STARTTLS on this connection?
 * False for level none and for a plaintext retry after a failed
 * handshake under level may. */
bool		 sess_tls_wanted(const struct session *);
/* sess_set_dest - client-first: the destination the client asked for
 * (an XMPP domain): what upstream = srv routes by, the SNI, and the
 * identity the certificate is checked against; recorded as the session's
 * domain.  source is the record's name_source when the server is found
 * under that name itself ("xmpp-to").  False when it is not an ASCII host
 * name. */
bool		 sess_set_dest(struct session *, const char *name,
		    const char *source);
/* sess_dest - that destination ("" when none) */
const char	*sess_dest(const struct session *);
/* sess_up_pending - during up_line(): how many bytes the server sent
 * after this line that are not handled yet (a server that talks out of
 * turn before TLS is injecting) */
size_t		 sess_up_pending(const struct session *);
void		 sess_write_up(struct session *, const void *, size_t);
void		 sess_write_down(struct session *, const void *, size_t);
void		 sess_printf_up(struct session *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
void		 sess_printf_down(struct session *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* sess_set_result - record the result (RES_NONE: keep it) and add the
 * cause to the reason */
void		 sess_set_result(struct session *, enum result,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
