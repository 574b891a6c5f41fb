/*
 * session.c - the per-session state machine between the legacy client and
 * the upstream server.
 *
 * Three kinds of code meet here and are kept apart: state entry
 * (sess_enter, the only writer of s->state), protocol steps returned by
 * the plugin (sess_step), and I/O events from io.c, tls.c and upstream.c
 * (sess_on_*).  Whoever detects the end of the session calls sess_end()
 * or sess_refuse(); the session is freed when its last handle has closed.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/log.h"
#include "shim/server.h"
#include "shim/session.h"
#include "shim/tls.h"

/* How long a closing session may take to flush before it is cut. */
#define CLOSE_GRACE_MS	5000

static const char *const state_names[SS_LAST] = {
	"resolving", "connecting", "negotiating", "handshake", "relay",
	"closing"
};

static void	sess_step(struct session *, enum step, size_t rest);
static void	tls_push(void *, const void *, size_t);
static void	on_timer(uv_timer_t *);
static void	close_all(struct session *);

const char *
sess_state_name(enum sstate st)
{
	return (unsigned)st < SS_LAST ? state_names[st] : "?";
}

/* ------------------------------------------------------ life cycle */

struct session *
sess_new(struct server *srv, struct conf *conf,
    const struct conf_service *svc)
{
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	if (svc->proto->priv_size > 0 &&
	    (s->priv = calloc(1, svc->proto->priv_size)) == NULL) {
		free(s);
		return NULL;
	}
	s->magic = SESSION_MAGIC;
	s->id = ++srv->next_id;
	s->srv = srv;
	s->conf_root = conf_ref(conf);
	s->conf = svc;
	s->proto = svc->proto;
	io_init(&s->down, s, "client");
	io_init(&s->up, s, "server");
	uv_timer_init(srv->loop, &s->timer);
	s->timer.data = s;
	s->handles = 1;				/* the timer */
	s->last_active = uv_now(srv->loop);

	s->out.session = s->id;
	s->out.start = time(NULL);
	s->out.start_ms = uv_now(srv->loop);
	snprintf(s->out.service, sizeof(s->out.service), "%s", svc->name);
	snprintf(s->out.direction, sizeof(s->out.direction), "%s",
	    direction_name(svc->direction));
	snprintf(s->out.protocol, sizeof(s->out.protocol), "%s",
	    svc->proto->name);
	snprintf(s->out.peer, sizeof(s->out.peer), "%s", svc->upstream_host);
	s->out.port = svc->upstream_port;
	snprintf(s->out.name_source, sizeof(s->out.name_source), "config");
	return s;
}

void
sess_start(struct session *s)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char addr[48];
	uint16_t port = 0;

	if (uv_tcp_getpeername(&s->down.tcp, (struct sockaddr *)&ss, &len) == 0
	    && io_addr_text((struct sockaddr *)&ss, addr, sizeof(addr),
	    &port) == 0)
		snprintf(s->out.client, sizeof(s->out.client), "%s:%u", addr,
		    port);
	uv_tcp_nodelay(&s->down.tcp, 1);
	slog(LOG_L_DETAIL, s, "accepted client=%s", s->out.client);
	/* Read the client from the start, so that one who gives up while
	 * the upstream is being negotiated ends the session at once. */
	if (io_read_start(&s->down) < 0) {
		sess_abort(s, "cannot read from client");
		return;
	}
	sess_enter(s, SS_RESOLVING);
}

static void
sess_free(struct session *s)
{
	char line[1536];

	if (s->out.result == RES_NONE)
		s->out.result = RES_FAILED;
	s->out.duration_ms = uv_now(s->srv->loop) - s->out.start_ms;
	outcome_format(&s->out, line, sizeof(line));
	logmsg(LOG_L_INFO, "%s", line);
	if (s->srv->on_outcome != NULL)
		s->srv->on_outcome(&s->out, s->srv->on_outcome_arg);
	server_session_done(s->srv, s);

	if (s->proto->free_priv != NULL)
		s->proto->free_priv(s);
	free(s->priv);
	lb_clear(&s->neg);
	free(s->early);
	tls_conn_free(s->tls);
	if (s->ai_list != NULL)
		uv_freeaddrinfo(s->ai_list);
	conf_unref(s->conf_root);
	s->magic = 0;
	free(s);
}

/* handle_closed - one handle or request fewer; free after the last */
static void
handle_closed(struct session *s)
{
	if (--s->handles == 0)
		sess_free(s);
}

/* sess_on_closed_request - a request counted in handles has finished */
void
sess_on_closed_request(struct session *s)
{
	handle_closed(s);
}

static void
on_timer_closed(uv_handle_t *h)
{
	handle_closed(h->data);
}

void
sess_on_closed(struct endpoint *ep)
{
	struct session *s = ep->s;

	if (ep == &s->up && !s->ending && s->up_reopen != UP_REOPEN_NONE)
		upstream_on_closed(s);
	handle_closed(s);
}

/* close_all - close every handle now; queued writes are dropped */
static void
close_all(struct session *s)
{
	if (!uv_is_closing((uv_handle_t *)&s->timer)) {
		uv_timer_stop(&s->timer);
		uv_close((uv_handle_t *)&s->timer, on_timer_closed);
	}
	io_close(&s->down);
	io_close(&s->up);
}

/* flushed - has everything queued on both sides gone out? */
static bool
flushed(const struct endpoint *ep)
{
	return !ep->open || ep->failed || (ep->shut && ep->shut_done);
}

/* sess_end - flush both sides, send FIN, then close */
void
sess_end(struct session *s)
{
	if (s->ending)
		return;
	s->ending = true;
	sess_enter(s, SS_CLOSING);
	if (s->gai_pending)
		uv_cancel((uv_req_t *)&s->gai);
	io_read_stop(&s->down);
	io_read_stop(&s->up);
	if (s->tls != NULL && s->up_tls && s->up.open && !s->up.failed &&
	    !s->up.shut)
		tls_conn_bye(s->tls);
	io_shutdown(&s->down);
	io_shutdown(&s->up);
	if (flushed(&s->down) && flushed(&s->up))
		close_all(s);
	else
		sess_arm_timer(s, CLOSE_GRACE_MS);
}

void
sess_abort(struct session *s, const char *why)
{
	if (why != NULL)
		outcome_add_reason(&s->out, "%s", why);
	s->ending = true;
	if (s->state != SS_CLOSING)
		sess_enter(s, SS_CLOSING);
	close_all(s);
}

/* sess_refuse - record why, tell the server goodbye if it can still hear
 * it, tell the legacy client in its protocol's words, and end */
void
sess_refuse(struct session *s, enum result r, const char *fmt, ...)
{
	va_list ap;
	if (s->ending)
		return;
	char why[sizeof(s->out.reason)];

	if (r != RES_NONE)
		s->out.result = r;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	outcome_add_reason(&s->out, "%s", why);
	slog(LOG_L_DETAIL, s, "%s: %s", result_name(s->out.result),
	    s->out.reason);
	/* RFC 3207 4.1: a client that does not like the TLS it got sends
	 * QUIT inside it.  Not after a failed handshake or an attack. */
	if (s->up.open && !s->up.failed && s->proto->up_quit != NULL &&
	    (s->state == SS_NEGOTIATING || s->handshake_done) &&
	    s->out.result != RES_ATTACK)
		sess_write_up(s, s->proto->up_quit, strlen(s->proto->up_quit));
	if (s->state < SS_RELAY && s->down.open && !s->down.failed)
		s->proto->refuse_down(s, s->out.reason);
	sess_end(s);
}

/* ------------------------------------------------------------ state */

void
sess_arm_timer(struct session *s, unsigned ms)
{
	uv_timer_start(&s->timer, on_timer, ms, 0);
}

/* enter_relay - negotiation is over: greet the client and relay */
static void
enter_relay(struct session *s)
{
	s->out.result = s->up_tls ? RES_TLS : RES_PLAINTEXT;
	lb_clear(&s->neg);
	s->last_active = uv_now(s->srv->loop);
	sess_arm_timer(s, s->conf->idle_timeout_ms);
	s->proto->down_greet(s);
	if (s->early_len > 0) {
		char *early = s->early;
		size_t len = s->early_len;

		s->early = NULL;
		s->early_len = 0;
		s->out.bytes_out += len;
		if (s->proto->relay_from_down(s, early, len) < 0) {
			free(early);
			sess_end(s);
			return;
		}
		free(early);
	}
	if (io_read_start(&s->down) < 0 || io_read_start(&s->up) < 0)
		sess_abort(s, "cannot read from a socket");
}

/* start_tls - the handshake's entry: the session sends ClientHello */
static void
start_tls(struct session *s)
{
	char err[160];
	/* SNI is the upstream host name; never an address (RFC 6066 3). */
	const char *sni = s->conf->upstream_is_ip ? NULL :
	    s->conf->upstream_host;

	s->tls_first_seen = false;
	s->tls = tls_conn_new(s->conf->tls_client, sni, tls_push, s, err,
	    sizeof(err));
	if (s->tls == NULL) {
		sess_refuse(s, RES_FAILED, "TLS setup failed: %s", err);
		return;
	}
	if (tls_conn_handshake(s->tls) == TLS_ERROR)
		sess_refuse(s, RES_FAILED, "TLS handshake failed: %s",
		    tls_conn_error(s->tls));
}

void
sess_enter(struct session *s, enum sstate next)
{
	slog(LOG_L_TRACE, s, "-> %s", state_names[next]);
	s->state = next;
	switch (next) {
	case SS_RESOLVING:
		sess_arm_timer(s, s->conf->connect_timeout_ms);
		upstream_start(s);
		break;
	case SS_CONNECTING:
		sess_arm_timer(s, s->conf->connect_timeout_ms);
		break;
	case SS_NEGOTIATING:
		lb_init(&s->neg, s->proto->line_max);
		if (io_read_start(&s->up) < 0) {
			sess_refuse(s, RES_FAILED, "cannot read from server");
			break;
		}
		s->neg_begun = true;
		sess_step(s, s->proto->up_begin(s), 0);
		break;
	case SS_HANDSHAKE:
		if (io_read_start(&s->up) < 0) {
			sess_refuse(s, RES_FAILED, "cannot read from server");
			break;
		}
		start_tls(s);
		break;
	case SS_RELAY:
		enter_relay(s);
		break;
	case SS_CLOSING:
	case SS_LAST:
		break;
	}
}

/* sess_connected - upstream.c: TCP is up; the negotiation clock starts */
void
sess_connected(struct session *s)
{
	sess_arm_timer(s, s->conf->handshake_timeout_ms);
	if (s->conf->tls == TLSM_IMPLICIT)
		sess_enter(s, SS_HANDSHAKE);
	else
		sess_enter(s, SS_NEGOTIATING);
}

/* unexpected_bytes - the server's pre-relay talk must be over when the
 * relay starts: what it sent beyond would reach the client as if it were
 * an answer to the client's first command (invariant 3) */
static bool
unexpected_bytes(struct session *s, size_t rest)
{
	if (rest == 0)
		return false;
	sess_refuse(s, RES_FAILED, "server sent %zu unexpected bytes before "
	    "the client's first command", rest);
	return true;
}

/* sess_step - act on what the plugin said; rest is how many bytes the
 * server sent after the line that led to this step */
static void
sess_step(struct session *s, enum step st, size_t rest)
{
	if (s->ending)
		return;
	switch (st) {
	case STEP_MORE:
		return;
	case STEP_STARTTLS:
		/* Invariant 1 of the attack catalogue: nothing received in
		 * plaintext crosses the TLS boundary.  A real server sends
		 * nothing after its 220 until our ClientHello. */
		if (rest > 0) {
			sess_refuse(s, RES_ATTACK, "response injection: %zu "
			    "bytes after the server's STARTTLS reply", rest);
			return;
		}
		sess_enter(s, SS_HANDSHAKE);
		return;
	case STEP_READY:
		if (!unexpected_bytes(s, rest))
			sess_enter(s, SS_RELAY);
		return;
	case STEP_NO_TLS:
		if (level_requires_tls(s->conf->level)) {
			if (s->out.reason[0] == '\0')
				outcome_add_reason(&s->out, "TLS not available");
			sess_refuse(s, RES_REFUSED, "security = %s requires TLS",
			    level_name(s->conf->level));
			return;
		}
		if (unexpected_bytes(s, rest))
			return;
		if (s->conf->level == LEV_NONE)
			outcome_add_reason(&s->out, "security = none");
		sess_enter(s, SS_RELAY);
		return;
	case STEP_FAIL:
		/* The plugin recorded the result and why. */
		sess_refuse(s, s->out.result != RES_NONE ? s->out.result :
		    RES_FAILED, "%s", s->out.reason[0] != '\0' ? "" :
		    "protocol error");
		return;
	}
}

/* ------------------------------------------------------------- data */

/* neg_feed - server bytes during negotiation, line by line */
static void
neg_feed(struct session *s, const char *data, size_t len)
{
	char *line;
	size_t n, linelen;

	while (len > 0 && !s->ending && s->state == SS_NEGOTIATING) {
		n = lb_append(&s->neg, data, len);
		data += n;
		len -= n;
		for (;;) {
			enum lb_res r = lb_next(&s->neg, &line, &linelen);
			enum step st;

			if (r == LB_MORE)
				break;
			if (r == LB_TOOBIG) {
				sess_refuse(s, RES_FAILED, "protocol error from "
				    "server: line longer than %zu bytes",
				    s->proto->line_max);
				return;
			}
			if (log_enabled(LOG_L_PROTO))
				slog(LOG_L_PROTO, s, "S: %.*s", (int)(linelen > 2 ?
				    linelen - 2 : 0), line);
			st = s->proto->up_line(s, line, linelen);
			if (st != STEP_MORE) {
				sess_step(s, st, lb_pending(&s->neg) + len);
				return;
			}
		}
	}
}

/* up_plain - plaintext from the server (decrypted, or never encrypted) */
static void
up_plain(struct session *s, const char *data, size_t len)
{
	switch (s->state) {
	case SS_NEGOTIATING:
		neg_feed(s, data, len);
		break;
	case SS_RELAY:
		s->out.bytes_in += len;
		if (s->proto->relay_from_up(s, data, len) < 0) {
			sess_end(s);
			return;
		}
		if (s->down.queued > IO_QUEUE_HIGH)
			io_pause(&s->up);
		break;
	default:
		/* After a refusal or during closing: drop. */
		break;
	}
}

/* tls_up - the handshake finished: describe, verify, decide */
static void
tls_up(struct session *s)
{
	char why[256];
	bool ok;

	s->handshake_done = true;
	s->up_tls = true;
	tls_conn_describe(s->tls, &s->out);
	ok = tls_conn_verify(s->tls, s->conf->upstream_host,
	    s->conf->upstream_is_ip, why, sizeof(why));
	s->out.auth = ok ? AUTH_PKIX : AUTH_UNTRUSTED;
	slog(LOG_L_DETAIL, s, "TLS up version=%s cipher=%s auth=%s%s%s",
	    s->out.tls_version, s->out.cipher, auth_name(s->out.auth),
	    ok ? "" : " why=", ok ? "" : why);
	if (!ok) {
		if (s->conf->level == LEV_VERIFY) {
			sess_refuse(s, RES_REFUSED, "%s", why);
			return;
		}
		/* Unauthenticated TLS is what may and encrypt ask for, but
		 * it is never presented as more (RFC 7435 3). */
		outcome_add_reason(&s->out, "%s", why);
	}
	if (!s->neg_begun)
		sess_enter(s, SS_NEGOTIATING);		/* implicit TLS */
	else
		sess_step(s, s->proto->up_tls_ready(s), 0);
}

/* tls_failed - the handshake failed: plaintext retry or refusal */
static void
tls_failed(struct session *s, const char *err)
{
	if (s->conf->level == LEV_MAY && s->conf->tls == TLSM_STARTTLS &&
	    !s->plain_retry) {
		/* RFC 7435: communication first.  The retry is recorded, and
		 * the result will say plaintext. */
		outcome_add_reason(&s->out, "TLS handshake failed (%s); "
		    "retried in plaintext", err);
		slog(LOG_L_DETAIL, s, "%s", s->out.reason);
		s->plain_retry = true;
		tls_conn_free(s->tls);
		s->tls = NULL;
		s->up_tls = false;
		s->neg_begun = false;
		lb_clear(&s->neg);
		upstream_reconnect(s);
		return;
	}
	sess_refuse(s, RES_REFUSED, "TLS handshake failed: %s", err);
}

/* plaintext_reply - a digit where a TLS record should start.  Records
 * begin with a content type of 20 to 24, never an ASCII digit, so one
 * byte tells: this is a protocol reply in the clear. */
static bool
plaintext_reply(const char *d, size_t len)
{
	return len >= 1 && d[0] >= '0' && d[0] <= '9';
}

/* tls_in - ciphertext from the server */
static void
tls_in(struct session *s, const char *data, size_t len)
{
	size_t got;
	enum tls_rc rc;

	if (!s->tls_first_seen) {
		s->tls_first_seen = true;
		/* After STARTTLS, injected replies may come in a segment of
		 * their own, after the 220 but before the server saw our
		 * ClientHello (catalogue SC-06, SC-10).  With implicit TLS
		 * the same bytes mean a plaintext port: a mistake, not an
		 * attack. */
		if (plaintext_reply(data, len) && s->neg_begun) {
			sess_refuse(s, RES_ATTACK, "response injection: "
			    "plaintext reply where the TLS handshake should be");
			return;
		}
		if (plaintext_reply(data, len)) {
			tls_failed(s, "server answered in plaintext (is this "
			    "an implicit TLS port?)");
			return;
		}
	}
	tls_conn_feed(s->tls, data, len);
	if (s->state == SS_HANDSHAKE) {
		rc = tls_conn_handshake(s->tls);
		if (rc == TLS_AGAIN)
			return;
		if (rc == TLS_ERROR) {
			tls_failed(s, tls_conn_error(s->tls));
			return;
		}
		tls_up(s);
	}
	/* Records after the handshake, possibly in the same segment. */
	while (!s->ending && s->tls != NULL &&
	    (s->state == SS_NEGOTIATING || s->state == SS_RELAY)) {
		rc = tls_conn_recv(s->tls, s->srv->tlsbuf,
		    sizeof(s->srv->tlsbuf), &got);
		if (rc == TLS_AGAIN)
			return;
		if (rc == TLS_CLOSED) {
			sess_on_eof(&s->up);
			return;
		}
		if (rc == TLS_ERROR) {
			if (s->state == SS_RELAY) {
				outcome_add_reason(&s->out, "TLS error from "
				    "server: %s", tls_conn_error(s->tls));
				sess_abort(s, NULL);
			} else
				sess_refuse(s, RES_FAILED, "TLS error from "
				    "server: %s", tls_conn_error(s->tls));
			return;
		}
		up_plain(s, s->srv->tlsbuf, got);
	}
}

/* keep_early - client bytes before the relay: kept, bounded, in order */
static void
keep_early(struct session *s, const char *data, size_t len)
{
	char *n;

	if (len > SESS_EARLY_MAX - s->early_len) {
		sess_refuse(s, RES_FAILED, "client sent more than %d bytes "
		    "before its greeting", SESS_EARLY_MAX);
		return;
	}
	if ((n = realloc(s->early, s->early_len + len)) == NULL) {
		sess_abort(s, "out of memory");
		return;
	}
	memcpy(n + s->early_len, data, len);
	s->early = n;
	s->early_len += len;
}

void
sess_on_read(struct endpoint *ep, const char *data, size_t len)
{
	struct session *s = ep->s;

	if (s->ending)
		return;
	s->last_active = uv_now(s->srv->loop);
	if (ep == &s->down) {
		if (s->state != SS_RELAY) {
			keep_early(s, data, len);
			return;
		}
		s->out.bytes_out += len;
		if (s->proto->relay_from_down(s, data, len) < 0) {
			sess_end(s);
			return;
		}
		if (s->up.queued > IO_QUEUE_HIGH)
			io_pause(&s->down);
		return;
	}
	if (s->tls != NULL)
		tls_in(s, data, len);
	else
		up_plain(s, data, len);
}

/* sess_on_eof - a side finished sending: pass the half-close on */
void
sess_on_eof(struct endpoint *ep)
{
	struct session *s = ep->s;

	if (s->ending)
		return;
	if (s->state != SS_RELAY && ep == &s->down) {
		/* Nobody left to relay for: stop negotiating. */
		if (s->out.result == RES_NONE)
			s->out.result = RES_FAILED;
		sess_abort(s, "client closed the connection before the relay "
		    "started");
		return;
	}
	if (s->state == SS_HANDSHAKE && ep == &s->up) {
		tls_failed(s, "server closed the connection");
		return;
	}
	if (s->state != SS_RELAY) {
		if (ep == &s->up)
			sess_refuse(s, RES_FAILED, "server closed the "
			    "connection during %s", state_names[s->state]);
		return;
	}
	ep->eof = true;
	io_read_stop(ep);
	if (ep == &s->down) {
		if (s->tls != NULL && s->up_tls)
			tls_conn_bye(s->tls);
		io_shutdown(&s->up);
	} else
		io_shutdown(&s->down);
	if (s->down.eof && s->up.eof)
		sess_end(s);
}

void
sess_on_error(struct endpoint *ep, int err)
{
	struct session *s = ep->s;

	if (s->ending) {
		/* A write failing while we flush: nothing more to say. */
		if (flushed(&s->down) && flushed(&s->up))
			close_all(s);
		return;
	}
	if (s->state == SS_RELAY && ep->eof) {
		/* The peer closed its side and now refuses what we still
		 * had to say (our FIN, a close_notify): the conversation is
		 * over, not broken. */
		sess_end(s);
		return;
	}
	if (s->state == SS_RELAY || ep == &s->down) {
		outcome_add_reason(&s->out, "%s connection: %s", ep->name,
		    uv_strerror(err));
		sess_abort(s, NULL);
		return;
	}
	if (s->state == SS_HANDSHAKE) {
		tls_failed(s, uv_strerror(err));
		return;
	}
	sess_refuse(s, RES_FAILED, "server connection: %s", uv_strerror(err));
}

/* sess_on_drain - a side's write queue went low, or its FIN went out */
void
sess_on_drain(struct endpoint *ep)
{
	struct session *s = ep->s;

	if (s->state == SS_CLOSING) {
		if (flushed(&s->down) && flushed(&s->up))
			close_all(s);
		return;
	}
	/* The side that feeds this one may read again. */
	if (ep == &s->up)
		io_resume(&s->down);
	else
		io_resume(&s->up);
}

static void
on_timer(uv_timer_t *t)
{
	struct session *s = t->data;
	uint64_t now = uv_now(s->srv->loop), idle;

	switch (s->state) {
	case SS_RESOLVING:
		sess_refuse(s, RES_FAILED, "resolving %s timed out",
		    s->conf->upstream_host);
		break;
	case SS_CONNECTING:
		upstream_on_timeout(s);
		break;
	case SS_NEGOTIATING:
	case SS_HANDSHAKE:
		sess_refuse(s, RES_FAILED, "timed out during %s after %u ms",
		    state_names[s->state], s->conf->handshake_timeout_ms);
		break;
	case SS_RELAY:
		/* Re-arming on every read would cost a timer operation per
		 * read; checking the last activity here costs nothing. */
		idle = now - s->last_active;
		if (idle < s->conf->idle_timeout_ms) {
			sess_arm_timer(s, (unsigned)(s->conf->idle_timeout_ms -
			    idle));
			break;
		}
		outcome_add_reason(&s->out, "idle for %u ms",
		    s->conf->idle_timeout_ms);
		sess_end(s);
		break;
	case SS_CLOSING:
		close_all(s);
		break;
	case SS_LAST:
		break;
	}
}

/* ------------------------------------------ what plugins may call */

static void
tls_push(void *ctx, const void *data, size_t len)
{
	struct session *s = ctx;

	io_write(&s->up, data, len);
}

void *
sess_priv(struct session *s)
{
	return s->priv;
}

const struct conf_service *
sess_conf(const struct session *s)
{
	return s->conf;
}

struct outcome *
sess_outcome(struct session *s)
{
	return &s->out;
}

bool
sess_up_tls(const struct session *s)
{
	return s->up_tls;
}

bool
sess_tls_wanted(const struct session *s)
{
	return s->conf->level != LEV_NONE && !s->plain_retry;
}

void
sess_write_up(struct session *s, const void *data, size_t len)
{
	if (s->tls != NULL && s->up_tls) {
		if (tls_conn_send(s->tls, data, len) != TLS_OK &&
		    !s->ending) {
			outcome_add_reason(&s->out, "TLS error: %s",
			    tls_conn_error(s->tls));
			sess_abort(s, NULL);
		}
		return;
	}
	io_write(&s->up, data, len);
}

void
sess_write_down(struct session *s, const void *data, size_t len)
{
	io_write(&s->down, data, len);
}

static void vprintf_to(struct session *, bool, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
vprintf_to(struct session *s, bool up, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (up)
		sess_write_up(s, buf, (size_t)n);
	else
		sess_write_down(s, buf, (size_t)n);
}

void
sess_printf_up(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (log_enabled(LOG_L_PROTO)) {
		va_list cp;
		char buf[256];
		va_copy(cp, ap);
		vsnprintf(buf, sizeof(buf), fmt, cp);
		va_end(cp);
		slog(LOG_L_PROTO, s, "C: %s", strtok(buf, "\r\n"));
	}
	vprintf_to(s, true, fmt, ap);
	va_end(ap);
}

void
sess_printf_down(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf_to(s, false, fmt, ap);
	va_end(ap);
}

void
sess_set_result(struct session *s, enum result r, const char *fmt, ...)
{
	va_list ap;
	char why[sizeof(s->out.reason)];

	if (r != RES_NONE)
		s->out.result = r;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	outcome_add_reason(&s->out, "%s", why);
}
