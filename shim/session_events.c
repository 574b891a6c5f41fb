/*
 * session_events.c - what happens to a session: bytes, end of stream,
 * errors, drained queues and timeouts, from io.c, tls.c and the timer.
 *
 * These handlers decide; state changes go through sess_enter() and the
 * end of a session through sess_end(), sess_abort() or sess_refuse() in
 * session.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/log.h"
#include "shim/posture.h"
#include "shim/server.h"
#include "shim/session.h"
#include "shim/tls.h"
#include "shim/transparent.h"

/* neg_feed - server bytes during negotiation, line by line, or as they
 * came for a protocol that reads bytes */
static void
neg_feed(struct session *s, const char *data, size_t len)
{
	char *line;
	size_t n, linelen;

	if (s->proto->up_bytes != NULL) {
		size_t used = len;
		enum step st;

		s->neg_rest = 0;
		st = s->proto->up_bytes(s, data, len, &used);
		if (st != STEP_MORE)
			sess_step(s, st, used < len ? len - used : 0);
		return;
	}
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
				sess_refuse(s, RES_FAILED, CAUSE_PROTOCOL,
				    "protocol error from "
				    "server: line longer than %zu bytes",
				    s->proto->line_max);
				return;
			}
			if (log_enabled(LOG_L_PROTO))
				slog(LOG_L_PROTO, s, "S: %.*s", (int)(linelen > 2 ?
				    linelen - 2 : 0), line);
			s->neg_rest = lb_pending(&s->neg) + len;
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
		if (s->state == SS_NEGOTIATING)
			lb_trim(&s->neg);
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
	/* A resumed session brings no certificate: it reports what the
	 * full handshake that it resumes found. */
	s->out.resumed = tls_conn_resumed(s->tls, &s->out, why, sizeof(why));
	if (s->level == LEV_DANE || s->level == LEV_DANE_ONLY) {
		/* Secure, usable TLSA records: they alone authenticate the
		 * server, and a mismatch is never relayed (RFC 7672 2.2). */
		s->out.auth = upstream_dane_verify(s, why, sizeof(why));
		slog(LOG_L_DETAIL, s, "TLS up version=%s cipher=%s auth=%s%s%s",
		    s->out.tls_version, s->out.cipher,
		    auth_name(s->out.auth), s->out.auth == AUTH_NONE ?
		    " why=" : "", s->out.auth == AUTH_NONE ? why : "");
		if (s->out.auth == AUTH_NONE) {
			s->out.auth = AUTH_UNTRUSTED;
			if (upstream_try_next(s, "DANE authentication failed: "
			    "%s", why))
				return;
			sess_refuse(s, RES_REFUSED, CAUSE_DANE_MISMATCH,
			    "DANE authentication failed: %s", why);
			return;
		}
		sess_enter(s, SS_NEGOTIATING);
		return;
	}
	if (s->out.resumed)
		ok = s->out.auth == AUTH_PKIX;
	else {
		ok = upstream_verify(s, why, sizeof(why));
		s->out.auth = ok ? AUTH_PKIX : AUTH_UNTRUSTED;
	}
	/* Transparent mode without a name: never shown as authenticated. */
	ok = transparent_auth(s, ok, why, sizeof(why));
	slog(LOG_L_DETAIL, s, "TLS up version=%s cipher=%s auth=%s%s%s%s",
	    s->out.tls_version, s->out.cipher, auth_name(s->out.auth),
	    s->out.resumed ? " resumed" : "", ok ? "" : " why=", ok ? "" : why);
	if (!ok) {
		if (s->conf->level == LEV_VERIFY) {
			sess_refuse(s, RES_REFUSED, CAUSE_CERT, "%s", why);
			return;
		}
		/* Unauthenticated TLS is what may and encrypt ask for, but
		 * it is never presented as more (RFC 7435 3). */
		outcome_add_reason(&s->out, "%s", why);
	}
	tls_conn_keep(s->tls, &s->out, ok ? "" : why);
	sess_enter(s, SS_NEGOTIATING);
}

/* tls_failed - the handshake failed: plaintext retry or refusal */
static void
tls_failed(struct session *s, const char *err)
{
	/* Where the plaintext retry would follow, a pinned peer refuses
	 * (pin = yes) or records it (report-only). */
	if (s->level == LEV_MAY && s->tls_mode == TLSM_STARTTLS &&
	    !s->plain_retry && posture_check_downgrade(&s->out, s->conf)) {
		sess_refuse(s, RES_REFUSED, CAUSE_PINNED, "TLS handshake "
		    "failed (%s); pin = yes: no plaintext to this peer", err);
		return;
	}
	if (s->level == LEV_MAY && s->tls_mode == TLSM_STARTTLS &&
	    !s->plain_retry) {
		/* RFC 7435: communication first.  The retry is recorded, and
		 * the result will say plaintext. */
		outcome_add_reason(&s->out, "TLS handshake failed (%s); "
		    "retried in plaintext", err);
		slog(LOG_L_DETAIL, s, "%s", s->out.reason);
		sess_forget_upstream(s);
		s->plain_retry = true;
		upstream_reconnect(s);
		return;
	}
	/* TLS its TLSA records made mandatory: another MX may do better
	 * (RFC 7672 2.2). */
	if ((s->conf->level == LEV_DANE || s->conf->level == LEV_DANE_ONLY)
	    && upstream_try_next(s, "TLS handshake failed: %s", err))
		return;
	sess_refuse(s, RES_REFUSED, CAUSE_HANDSHAKE,
	    "TLS handshake failed: %s", err);
}

/* plaintext_reply - text where a TLS record should start.  A record
 * begins with its content type, 20 to 24, never a printable character;
 * an SMTP code, an IMAP "*" or tag, a POP3 "+OK" always do.  So one byte
 * tells: this is a protocol reply in the clear. */
static bool
plaintext_reply(const char *d, size_t len)
{
	return len >= 1 && (unsigned char)d[0] >= 0x20 &&
	    (unsigned char)d[0] < 0x7f;
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
			sess_refuse(s, RES_ATTACK, CAUSE_INJECTION,
			    "response injection: "
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
				sess_refuse(s, RES_FAILED, CAUSE_PROTOCOL,
				    "TLS error from "
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
		sess_refuse(s, RES_FAILED, CAUSE_PROTOCOL,
		    "client sent more than %d bytes "
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

/* open_feed - client-first: the client's opening, until the plugin
 * knows where the client goes; the rest is kept as early bytes */
static void
open_feed(struct session *s, const char *data, size_t len)
{
	size_t used = len;
	enum step st = s->proto->down_open(s, data, len, &used);

	if (s->ending || st == STEP_MORE)
		return;
	if (st != STEP_READY) {
		sess_step(s, STEP_FAIL, 0);
		return;
	}
	if (used < len)
		keep_early(s, data + used, len - used);
	if (s->ending)
		return;
	sess_enter(s, SS_RESOLVING);
	upstream_start(s);
}

void
sess_on_read(struct endpoint *ep, const char *data, size_t len)
{
	struct session *s = ep->s;

	if (s->ending)
		return;
	s->last_active = uv_now(s->srv->loop);
	if (ep == &s->down) {
		if (s->state == SS_OPENING) {
			open_feed(s, data, len);
			return;
		}
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
			sess_refuse(s, RES_FAILED, CAUSE_PROTOCOL,
			    "server closed the "
			    "connection during %s", sess_state_name(s->state));
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
		if (sess_flushed(&s->down) && sess_flushed(&s->up))
			sess_close_all(s);
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
	sess_refuse(s, RES_FAILED, CAUSE_CONNECT,
	    "server connection: %s", uv_strerror(err));
}

/* sess_on_drain - a side's write queue went low, or its FIN went out */
void
sess_on_drain(struct endpoint *ep)
{
	struct session *s = ep->s;

	if (s->state == SS_CLOSING) {
		if (sess_flushed(&s->down) && sess_flushed(&s->up))
			sess_close_all(s);
		return;
	}
	/* The side that feeds this one may read again. */
	if (ep == &s->up)
		io_resume(&s->down);
	else
		io_resume(&s->up);
}

/* sess_on_timer - the current phase ran out of time */
void
sess_on_timer(uv_timer_t *t)
{
	struct session *s = t->data;
	uint64_t now = uv_now(s->srv->loop), idle;

	switch (s->state) {
	case SS_OPENING:
		sess_refuse(s, RES_FAILED, CAUSE_TIMEOUT, "the client did not "
		    "say where it goes within %u ms",
		    s->conf->connect_timeout_ms);
		break;
	case SS_RESOLVING:
		sess_refuse(s, RES_FAILED, CAUSE_TIMEOUT,
		    "resolving %s timed out",
		    s->out.peer);
		break;
	case SS_CONNECTING:
		upstream_on_timeout(s);
		break;
	case SS_NEGOTIATING:
	case SS_HANDSHAKE:
		sess_refuse(s, RES_FAILED, CAUSE_TIMEOUT,
		    "timed out during %s after %u ms",
		    sess_state_name(s->state), s->conf->handshake_timeout_ms);
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
		sess_close_all(s);
		break;
	case SS_LAST:
		break;
	}
}

