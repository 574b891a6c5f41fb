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
#include "shim/posture.h"
#include "shim/metrics.h"
#include "shim/server.h"
#include "shim/session.h"
#include "shim/tls.h"

/* How long a closing session may take to flush before it is cut. */
#define CLOSE_GRACE_MS	5000

static const char *const state_names[SS_LAST] = {
	"opening", "resolving", "connecting", "negotiating", "handshake",
	"relay", "closing"
};

static void	tls_push(void *, const void *, size_t);

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
	s->id = server_next_id();
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
	s->level = svc->level;
	s->tls_mode = svc->tls;
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
	/* A client-first protocol says where it wants to go before there
	 * is anywhere to connect to. */
	if (s->proto->down_open != NULL) {
		sess_enter(s, SS_OPENING);
		return;
	}
	sess_enter(s, SS_RESOLVING);
	upstream_start(s);
}

static void
sess_free(struct session *s)
{
	char line[2048];

	if (s->out.result == RES_NONE)
		s->out.result = RES_FAILED;
	s->out.duration_ms = uv_now(s->srv->loop) - s->out.start_ms;
	if (log_enabled(LOG_L_INFO)) {
		outcome_format(&s->out, line, sizeof(line));
		logmsg(LOG_L_INFO, "%s", line);
	}
	metrics_session(&s->out);
	if (s->srv->on_outcome != NULL)
		s->srv->on_outcome(&s->out, s->srv->on_outcome_arg);
	/* posture_submit takes the strings the record owns; releasing
	 * after it frees nothing, but keeps a future path without it from
	 * leaking them. */
	posture_submit(&s->out);
	outcome_release(&s->out);
	server_session_done(s->srv, s);

	if (s->proto->free_priv != NULL)
		s->proto->free_priv(s);
	free(s->priv);
	lb_clear(&s->neg);
	free(s->early);
	tls_conn_free(s->tls);
	upstream_free(s);
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

/* sess_forget_upstream - the upstream connection is given up (a retry in
 * plaintext, the next target): its TLS and negotiation start over */
void
sess_forget_upstream(struct session *s)
{
	tls_conn_free(s->tls);
	s->tls = NULL;
	s->up_tls = false;
	s->neg_begun = false;
	lb_clear(&s->neg);
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

/* sess_close_all - close every handle now; queued writes are dropped */
void
sess_close_all(struct session *s)
{
	if (!uv_is_closing((uv_handle_t *)&s->timer)) {
		uv_timer_stop(&s->timer);
		uv_close((uv_handle_t *)&s->timer, on_timer_closed);
	}
	io_close(&s->down);
	io_close(&s->up);
}

/* sess_flushed - has everything queued on this side gone out? */
bool
sess_flushed(const struct endpoint *ep)
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
	upstream_cancel(s);
	io_read_stop(&s->down);
	io_read_stop(&s->up);
	if (s->tls != NULL && s->up_tls && s->up.open && !s->up.failed &&
	    !s->up.shut)
		tls_conn_bye(s->tls);
	io_shutdown(&s->down);
	io_shutdown(&s->up);
	if (sess_flushed(&s->down) && sess_flushed(&s->up))
		sess_close_all(s);
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
	sess_close_all(s);
}

/* sess_refuse - record why, tell the server goodbye if it can still hear
 * it, tell the legacy client in its protocol's words, and end */
void
sess_refuse(struct session *s, enum result r, enum cause cause,
    const char *fmt, ...)
{
	va_list ap;
	if (s->ending)
		return;
	char why[sizeof(s->out.reason)];

	if (r != RES_NONE)
		s->out.result = r;
	outcome_set_cause(&s->out, cause);
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
	uv_timer_start(&s->timer, sess_on_timer, ms, 0);
}

/* enter_relay - negotiation is over: greet the client and relay */
static void
enter_relay(struct session *s)
{
	s->out.result = s->up_tls ? RES_TLS : RES_PLAINTEXT;
	lb_clear(&s->neg);
	upstream_free(s);	/* the targets are not needed any more */
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
	/* SNI is the host name, or the TLSA base domain in use (RFC 7672
	 * 8.1); never an address (RFC 6066 3). */
	const char *sni = upstream_sni(s), *alpn = upstream_alpn(s);

	s->tls_first_seen = false;
	s->tls = tls_conn_new(s->conf->tls_client, sni, tls_push, s, err,
	    sizeof(err));
	if (s->tls == NULL || (alpn != NULL &&
	    !tls_conn_alpn(s->tls, alpn, err, sizeof(err)))) {
		sess_refuse(s, RES_FAILED, CAUSE_LOCAL,
		    "TLS setup failed: %s", err);
		return;
	}
	/* Offer a session kept from an earlier handshake with this upstream
	 * under the same verification requirements, if there is one. */
	(void)tls_conn_resume(s->tls, s->out.peer, s->out.port,
	    s->conf->level);
	if (tls_conn_handshake(s->tls) == TLS_ERROR)
		sess_refuse(s, RES_FAILED, CAUSE_HANDSHAKE,
		    "TLS handshake failed: %s",
		    tls_conn_error(s->tls));
}

void
sess_enter(struct session *s, enum sstate next)
{
	slog(LOG_L_TRACE, s, "-> %s", state_names[next]);
	s->state = next;
	switch (next) {
	case SS_OPENING:
		/* The client has as long to say where it goes as a server
		 * has to answer a connection. */
		sess_arm_timer(s, s->conf->connect_timeout_ms);
		break;
	case SS_RESOLVING:
		/* upstream.c arms the timer for each target it resolves. */
		break;
	case SS_CONNECTING:
		sess_arm_timer(s, s->conf->connect_timeout_ms);
		break;
	case SS_NEGOTIATING:
		lb_clear(&s->neg);	/* storage may be left from before TLS */
		lb_init(&s->neg, s->proto->line_max);
		if (io_read_start(&s->up) < 0) {
			sess_refuse(s, RES_FAILED, CAUSE_LOCAL,
			    "cannot read from server");
			break;
		}
		/* Back from a STARTTLS handshake, the plugin goes on inside
		 * TLS (a fresh CAPABILITY, say); otherwise it starts. */
		if (s->neg_begun) {
			sess_step(s, s->proto->up_tls_ready(s), 0);
			break;
		}
		s->neg_begun = true;
		sess_step(s, s->proto->up_begin(s), 0);
		break;
	case SS_HANDSHAKE:
		if (io_read_start(&s->up) < 0) {
			sess_refuse(s, RES_FAILED, CAUSE_LOCAL,
			    "cannot read from server");
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
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	uint16_t port;

	/* Our side of the connection: the sending MTA of TLSRPT. */
	if (uv_tcp_getsockname(&s->up.tcp, (struct sockaddr *)&ss, &len) == 0)
		io_addr_text((struct sockaddr *)&ss, s->out.local,
		    sizeof(s->out.local), &port);
	sess_arm_timer(s, s->conf->handshake_timeout_ms);
	if (s->tls_mode == TLSM_IMPLICIT)
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
	sess_refuse(s, RES_FAILED, CAUSE_PROTOCOL,
	    "server sent %zu unexpected bytes before "
	    "the client's first command", rest);
	return true;
}

/* sess_step - act on what the plugin said; rest is how many bytes the
 * server sent after the line that led to this step */
void
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
			sess_refuse(s, RES_ATTACK, CAUSE_INJECTION,
			    "response injection: %zu "
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
		if (level_requires_tls(s->level)) {
			bool by_tlsa = s->conf->level == LEV_DANE ||
			    s->conf->level == LEV_DANE_ONLY;

			/* With MX or SRV, another target may have it
			 * (RFC 7672 2.2). */
			if (by_tlsa && upstream_try_next(s, "TLS not "
			    "available, and its TLSA records require it"))
				return;
			if (s->out.reason[0] == '\0')
				outcome_add_reason(&s->out, "TLS not available");
			if (by_tlsa)
				sess_refuse(s, RES_REFUSED, CAUSE_NO_TLS,
				    "the TLSA records of "
				    "%s require TLS", s->out.peer);
			else
				sess_refuse(s, RES_REFUSED, CAUSE_NO_TLS,
				    "security = %s "
				    "requires TLS", level_name(s->level));
			return;
		}
		/* A peer pinned for its TLS: the missing STARTTLS is the
		 * downgrade the pin is for. */
		if (posture_check_downgrade(&s->out, s->conf)) {
			sess_refuse(s, RES_REFUSED, CAUSE_PINNED,
			    "pin = yes: no plaintext to this peer");
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
		    RES_FAILED, s->out.result == RES_ATTACK ?
		    CAUSE_INJECTION : CAUSE_PROTOCOL, "%s",
		    s->out.reason[0] != '\0' ? "" : "protocol error");
		return;
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

size_t
sess_up_pending(const struct session *s)
{
	return s->neg_rest;
}

/* sess_set_dest - the destination a client-first client named.  It is
 * looked up, sent as SNI and matched against certificates, so only a host
 * name in ASCII is taken: letters, digits and hyphens in dot-separated
 * labels of 1 to 63, not all digits (an address is not a domain). */
bool
sess_set_dest(struct session *s, const char *name, const char *source)
{
	size_t n = strlen(name), label = 0;
	bool alpha = false;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (c == '.') {
			if (label == 0 || name[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-') ||
		    (c == '-' && label == 0) || ++label > 63)
			return false;
		if (!(c >= '0' && c <= '9'))
			alpha = true;
	}
	if (label == 0 || name[n - 1] == '-' || !alpha)
		return false;
	memcpy(s->dest, name, n + 1);
	s->dest_source = source;
	snprintf(s->out.domain, sizeof(s->out.domain), "%s", name);
	return true;
}

const char *
sess_dest(const struct session *s)
{
	return s->dest;
}

bool
sess_tls_wanted(const struct session *s)
{
	return s->level != LEV_NONE && !s->plain_retry;
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
